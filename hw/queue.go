package hw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/ledger"
)

// QueueConfig configures a Queue. Dir, Printer and Layout are required.
type QueueConfig struct {
	// Dir holds the queue: pending/ (jobs to print), printed/ (the last
	// Keep printed, for reprints) and bad/ (files that could not be read).
	Dir     string
	Printer Printer
	Layout  receipt.Layout
	// Keep is how many printed receipts are kept for reprinting; zero
	// means 200.
	Keep int
	// Retry paces the attempts while the queue is held.
	Retry  Backoff
	Logger *slog.Logger
	Now    func() time.Time
	// Notify is called when the queue's state changes.
	Notify func()
}

// JobState is where a job is.
type JobState string

const (
	JobQueued   JobState = "queued"
	JobPrinting JobState = "printing"
	JobPrinted  JobState = "printed"
)

// JobInfo describes a print job for the till's screens.
type JobInfo struct {
	ID       string         `json:"id"`
	EventID  ledger.EventID `json:"event_id"`
	Number   string         `json:"number"` // receipt number
	Copy     bool           `json:"copy"`   // printed (or to be printed) marked COPY
	State    JobState       `json:"state"`
	Created  time.Time      `json:"created"`
	Printed  time.Time      `json:"printed,omitzero"`
	Attempts int            `json:"attempts"`
}

// QueueState is what the till shows about its print queue.
type QueueState struct {
	Pending int `json:"pending"`
	// Held is true while the printer cannot take the next job; Reason
	// says why in a few words ("paper out", "no reply", "unplugged").
	Held      bool   `json:"held"`
	Reason    string `json:"reason,omitempty"`
	LastError string `json:"last_error,omitempty"`
	Printed   int    `json:"printed"` // since the queue started
	// Unsaved counts queued jobs the disk refused: they print, but a
	// restart before then loses them.
	Unsaved int `json:"unsaved"`
	// Unencodable lists characters of the last receipt that the printer's
	// code page lacks (printed as '?').
	Unencodable string `json:"unencodable,omitempty"`
}

// job is a queue entry, and the JSON of its file.
type job struct {
	V         int             `json:"v"`
	ID        uint64          `json:"id"`
	Copy      bool            `json:"copy,omitempty"`      // a reprint asked for
	Attempted bool            `json:"attempted,omitempty"` // bytes may have reached the printer
	Attempts  int             `json:"attempts,omitempty"`
	Created   time.Time       `json:"created"`
	Printed   time.Time       `json:"printed,omitzero"`
	AsCopy    bool            `json:"as_copy,omitempty"` // printed marked COPY
	Receipt   receipt.Receipt `json:"receipt"`

	saved    bool
	printing bool
}

func (j *job) name() string { return fmt.Sprintf("%012d.json", j.ID) }

func (j *job) info() JobInfo {
	st := JobQueued
	asCopy := j.Copy || j.Attempted
	switch {
	case !j.Printed.IsZero():
		st, asCopy = JobPrinted, j.AsCopy
	case j.printing:
		st = JobPrinting
	}
	return JobInfo{ID: strconv.FormatUint(j.ID, 10), EventID: j.Receipt.EventID, Number: j.Receipt.Number,
		Copy: asCopy, State: st, Created: j.Created, Printed: j.Printed, Attempts: j.Attempts}
}

// A Queue is the till's persisted print queue. A sale is committed to
// the ledger first; then its receipt is queued with Enqueue, which never
// waits for the printer. Run prints jobs in order, each once the printer
// says it is ready; paper out, offline or no reply hold the queue, and
// the state says why.
//
// Crash safety: every job is a file written with fsync and rename. A job
// is marked as attempted (on disk) before its first byte goes out, and
// moved to printed/ after the printer confirmed it is still fine. A job
// that may have printed in part, or before a crash, is printed again
// marked COPY: a duplicate beats a lost receipt.
type Queue struct {
	cfg  QueueConfig
	log  *slog.Logger
	wake chan struct{}

	disk sync.Mutex // serialises file writes

	mu      sync.Mutex
	next    uint64
	pending []*job
	history []*job // printed, oldest first
	state   QueueState
}

const (
	pendingDir = "pending"
	printedDir = "printed"
	badDir     = "bad"
	jobVersion = 1
)

// NewQueue opens (or creates) the queue in cfg.Dir and loads its jobs.
func NewQueue(cfg QueueConfig) (*Queue, error) {
	if cfg.Dir == "" || cfg.Printer == nil {
		return nil, fmt.Errorf("print queue: directory and printer required: %w", ErrConfig)
	}
	if err := cfg.Layout.Validate(); err != nil {
		return nil, fmt.Errorf("print queue: %w", err)
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 200
	}
	if cfg.Retry == (Backoff{}) {
		cfg.Retry = Backoff{Min: 250 * time.Millisecond, Max: 3 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	q := &Queue{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), next: 1}
	for _, d := range []string{pendingDir, printedDir, badDir} {
		if err := q.mkdir(d); err != nil {
			return nil, err
		}
	}
	printed, err := q.load(printedDir)
	if err != nil {
		return nil, err
	}
	pending, err := q.load(pendingDir)
	if err != nil {
		return nil, err
	}
	if bad, err := os.ReadDir(filepath.Join(cfg.Dir, badDir)); err == nil {
		for _, e := range bad { // never reuse the ID of a job set aside
			name := strings.TrimSuffix(e.Name()[strings.LastIndexByte(e.Name(), '-')+1:], ".json")
			if id, err := strconv.ParseUint(name, 10, 64); err == nil {
				q.next = max(q.next, id+1)
			}
		}
	}
	done := map[uint64]bool{}
	for _, j := range printed {
		done[j.ID] = true
		q.next = max(q.next, j.ID+1)
	}
	q.history = printed
	for _, j := range pending {
		q.next = max(q.next, j.ID+1)
		if done[j.ID] { // moved to printed/ just before a crash
			os.Remove(filepath.Join(cfg.Dir, pendingDir, j.name()))
			continue
		}
		q.pending = append(q.pending, j)
	}
	q.prune()
	q.state.Pending = len(q.pending)
	return q, nil
}

// mkdir makes the queue's subdirectory d. A file where the queue or d
// should be (a damaged disk, a stray copy) is moved aside, kept, and
// logged: receipts must never stop the till from selling.
func (q *Queue) mkdir(d string) error {
	path := filepath.Join(q.cfg.Dir, d)
	err := os.MkdirAll(path, 0o700)
	if err == nil {
		return nil
	}
	for _, p := range []string{q.cfg.Dir, path} {
		fi, serr := os.Stat(p)
		if serr != nil || fi.IsDir() {
			continue
		}
		aside := fmt.Sprintf("%s.broken-%s", p, q.cfg.Now().UTC().Format("20060102T150405.000"))
		if rerr := os.Rename(p, aside); rerr != nil {
			return fmt.Errorf("open print queue %s: %w (and moving %s aside: %v)", q.cfg.Dir, err, p, rerr)
		}
		q.log.Error("print queue: a file stood where a directory belongs; moved aside", "file", p, "moved_to", aside)
		if err = os.MkdirAll(path, 0o700); err == nil {
			return nil
		}
	}
	return fmt.Errorf("open print queue %s: %w", q.cfg.Dir, err)
}

// load reads every job file in dir, oldest first. Files that cannot be
// read are moved to bad/ and logged: a damaged file never stops the till.
func (q *Queue) load(dir string) ([]*job, error) {
	path := filepath.Join(q.cfg.Dir, dir)
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("open print queue %s: %w", path, err)
	}
	var jobs []*job
	for _, e := range entries {
		name := e.Name()
		full := filepath.Join(path, name)
		if strings.HasPrefix(name, ".tmp-") {
			os.Remove(full)
			continue
		}
		if !strings.HasSuffix(name, ".json") || e.IsDir() {
			continue
		}
		j, err := readJob(full)
		if err == nil && j.name() != name {
			err = fmt.Errorf("job %d in file %s", j.ID, name)
		}
		if err != nil {
			q.log.Error("print queue: unreadable job moved aside", "file", full, "err", err)
			os.Rename(full, filepath.Join(q.cfg.Dir, badDir, dir+"-"+name))
			continue
		}
		j.saved = true
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b *job) int { return cmpUint(a.ID, b.ID) })
	return jobs, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func readJob(path string) (*job, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	if j.V != jobVersion || j.ID == 0 {
		return nil, fmt.Errorf("job version %d id %d", j.V, j.ID)
	}
	if err := j.Receipt.Validate(); err != nil {
		return nil, err
	}
	return &j, nil
}

// save writes j into dir with fsync and rename.
func (q *Queue) save(j *job, dir string) error {
	q.disk.Lock()
	defer q.disk.Unlock()
	q.mu.Lock()
	b, err := json.Marshal(j)
	q.mu.Unlock()
	if err != nil {
		return err
	}
	return writeFileSync(filepath.Join(q.cfg.Dir, dir), j.name(), b)
}

// writeFileSync writes name in dir so that after a crash the file is
// either absent, or whole: temporary file, fsync, rename, fsync of dir.
func writeFileSync(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Enqueue queues the receipt of a committed sale and returns at once:
// it never waits for the printer. Queuing the same sale again while its
// receipt is queued or remembered as printed returns that job instead, so
// a retried request does not print twice.
//
// If the disk refuses the job it is still queued in memory and prints,
// and the error says so; the sale stands either way.
func (q *Queue) Enqueue(r receipt.Receipt) (JobInfo, error) {
	return q.add(r, false, true)
}

// ReprintReceipt queues a copy of r, marked COPY.
func (q *Queue) ReprintReceipt(r receipt.Receipt) (JobInfo, error) {
	return q.add(r, true, false)
}

// Reprint queues a copy, marked COPY, of the receipt of the sale id,
// taken from the queue or from the printed receipts it keeps. It returns
// ErrNotQueued if it has neither: rebuild the receipt from the ledger and
// call ReprintReceipt.
func (q *Queue) Reprint(id ledger.EventID) (JobInfo, error) {
	q.mu.Lock()
	var found *receipt.Receipt
	for _, list := range [][]*job{q.pending, q.history} {
		for _, j := range list {
			if j.Receipt.EventID == id {
				r := j.Receipt
				found = &r
			}
		}
	}
	q.mu.Unlock()
	if found == nil {
		return JobInfo{}, fmt.Errorf("reprint %s: %w", id, ErrNotQueued)
	}
	return q.add(*found, true, false)
}

func (q *Queue) add(r receipt.Receipt, copy, dedupe bool) (JobInfo, error) {
	if err := r.Validate(); err != nil {
		return JobInfo{}, err
	}
	q.mu.Lock()
	if dedupe {
		for _, list := range [][]*job{q.pending, q.history} {
			for _, j := range list {
				if !j.Copy && j.Receipt.EventID == r.EventID {
					info := j.info()
					q.mu.Unlock()
					return info, nil
				}
			}
		}
	}
	j := &job{V: jobVersion, ID: q.next, Copy: copy, Created: q.cfg.Now(), Receipt: r}
	q.next++
	q.pending = append(q.pending, j)
	q.state.Pending = len(q.pending)
	q.mu.Unlock()

	err := q.save(j, pendingDir)
	q.mu.Lock()
	j.saved = err == nil
	if err != nil {
		q.state.Unsaved++
	}
	info := j.info()
	q.mu.Unlock()
	q.Nudge()
	q.cfg.Notify()
	if err != nil {
		q.log.Error("print queue: receipt kept in memory only", "receipt", r.Number, "err", err)
		return info, fmt.Errorf("queue receipt %s: not saved, kept in memory: %w", r.Number, err)
	}
	return info, nil
}

// Nudge makes a held queue try again now, as when the printer reports
// that it is ready.
func (q *Queue) Nudge() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// State returns the queue's state.
func (q *Queue) State() QueueState {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state
}

// Jobs lists the queued jobs, next first.
func (q *Queue) Jobs() []JobInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]JobInfo, len(q.pending))
	for i, j := range q.pending {
		out[i] = j.info()
	}
	return out
}

// Recent lists the printed jobs the queue keeps, newest first.
func (q *Queue) Recent() []JobInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]JobInfo, 0, len(q.history))
	for i := len(q.history) - 1; i >= 0; i-- {
		out = append(out, q.history[i].info())
	}
	return out
}

func (q *Queue) head() *job {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		return nil
	}
	return q.pending[0]
}

// Run prints queued jobs until ctx ends.
func (q *Queue) Run(ctx context.Context) error {
	bo := backoff{Backoff: q.cfg.Retry}
	for {
		if ctx.Err() != nil {
			return nil
		}
		j := q.head()
		if j == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-q.wake:
				continue
			}
		}
		if q.printOne(ctx, j) {
			bo.reset()
			continue
		}
		if !bo.wait(ctx, q.wake) {
			return nil
		}
	}
}

// printOne tries the job once and reports whether it printed (or was
// dropped as unprintable).
func (q *Queue) printOne(ctx context.Context, j *job) bool {
	q.mu.Lock()
	reprint := j.Copy || j.Attempted
	j.printing = true
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		j.printing = false
		q.mu.Unlock()
	}()
	out, err := receipt.Render(j.Receipt, q.cfg.Layout, reprint)
	if err != nil {
		q.reject(j, err)
		return true
	}
	err = q.cfg.Printer.Print(ctx, Job{Segments: out.Segments, Sending: func() error {
		q.mu.Lock()
		j.Attempted = true
		j.Attempts++
		saved := j.saved
		q.mu.Unlock()
		if saved {
			if err := q.save(j, pendingDir); err != nil {
				q.log.Warn("print queue: attempt not recorded; a crash now may print it again unmarked", "receipt", j.Receipt.Number, "err", err)
			}
		}
		return nil
	}})
	if err != nil {
		if ctx.Err() == nil {
			q.hold(err)
		}
		return false
	}
	q.done(j, out, reprint)
	return true
}

func (q *Queue) hold(err error) {
	reason := holdReason(err)
	q.mu.Lock()
	changed := !q.state.Held || q.state.Reason != reason
	q.state.Held, q.state.Reason, q.state.LastError = true, reason, err.Error()
	q.mu.Unlock()
	if changed {
		q.log.Warn("print queue held", "reason", reason, "err", err)
		q.cfg.Notify()
	}
}

// holdReason says in a few words why a job did not print.
func holdReason(err error) string {
	var pe *PrintError
	if errors.As(err, &pe) {
		if errors.Is(err, ErrNotReady) {
			if p, _ := printerProblem(pe.Status); p != "" {
				return p
			}
		}
		switch {
		case errors.Is(err, ErrNoReply):
			return "no reply"
		case pe.Stage == StageOpen:
			return unplugged(pe.Err)
		case isTimeout(err):
			return "no reply"
		case pe.Stage == StageSend:
			return "send failed"
		}
	}
	return "printer error"
}

// done moves a printed job to printed/.
func (q *Queue) done(j *job, out *receipt.Printout, asCopy bool) {
	q.mu.Lock()
	j.Printed, j.AsCopy = q.cfg.Now(), asCopy
	saved := j.saved
	q.mu.Unlock()
	if saved {
		if err := q.save(j, printedDir); err != nil {
			q.log.Warn("print queue: printed receipt not recorded", "receipt", j.Receipt.Number, "err", err)
		}
		q.disk.Lock()
		os.Remove(filepath.Join(q.cfg.Dir, pendingDir, j.name()))
		syncDir(filepath.Join(q.cfg.Dir, pendingDir))
		q.disk.Unlock()
	}
	q.mu.Lock()
	q.pending = slices.DeleteFunc(q.pending, func(x *job) bool { return x == j })
	q.history = append(q.history, j)
	q.mu.Unlock()
	q.prune()
	q.mu.Lock()
	wasHeld := q.state.Held
	if !saved {
		q.state.Unsaved = max(0, q.state.Unsaved-1)
	}
	q.state.Pending = len(q.pending)
	q.state.Printed++
	q.state.Held, q.state.Reason = false, ""
	q.state.Unencodable = string(out.Unencodable)
	q.mu.Unlock()
	if wasHeld {
		q.log.Info("print queue printing again", "receipt", j.Receipt.Number)
	}
	q.cfg.Notify()
}

// reject drops a job that cannot be rendered: its file goes to bad/.
func (q *Queue) reject(j *job, err error) {
	q.log.Error("print queue: receipt cannot be printed; moved aside", "receipt", j.Receipt.Number, "err", err)
	q.disk.Lock()
	os.Rename(filepath.Join(q.cfg.Dir, pendingDir, j.name()), filepath.Join(q.cfg.Dir, badDir, j.name()))
	q.disk.Unlock()
	q.mu.Lock()
	q.pending = slices.DeleteFunc(q.pending, func(x *job) bool { return x == j })
	q.state.Pending = len(q.pending)
	q.state.LastError = err.Error()
	q.mu.Unlock()
	q.cfg.Notify()
}

// prune keeps the newest Keep printed jobs.
func (q *Queue) prune() {
	q.mu.Lock()
	var drop []*job
	if n := len(q.history) - q.cfg.Keep; n > 0 {
		drop = slices.Clone(q.history[:n])
		q.history = slices.Delete(q.history, 0, n)
	}
	q.mu.Unlock()
	if len(drop) == 0 {
		return
	}
	q.disk.Lock()
	defer q.disk.Unlock()
	for _, j := range drop {
		os.Remove(filepath.Join(q.cfg.Dir, printedDir, j.name()))
	}
}
