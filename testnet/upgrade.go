package testnet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
)

// futureKind is the kind a new release's tills write in the
// rolling-upgrade scenario (the `newkind` step) and the previous release
// does not know. Only binaries built with -tags testnethooks can write it
// (ledger/testnetkind.go); the harness reads it as any release does, as
// an event of an unknown kind.
const futureKind ledger.Kind = "testnet_future"

// ErrNoUpgrade is returned by Run for a scenario with an upgrade step
// where it cannot run: not in process mode, or no previous release.
var ErrNoUpgrade = errors.New("testnet: rolling upgrade unavailable")

func (sc *Scenario) upgrades() bool {
	for _, st := range sc.Steps {
		if st.Op == OpUpgrade {
			return true
		}
	}
	return false
}

// checkUpgrade says why the scenario's upgrades cannot run here.
func checkUpgrade(sc *Scenario, cfg Config) error {
	if !sc.upgrades() {
		return nil
	}
	if cfg.Mode != Process {
		return fmt.Errorf("%w: mode %s: upgrades run in process mode only (two binaries)", ErrNoUpgrade, cfg.Mode)
	}
	if cfg.OldBinary == "" {
		return fmt.Errorf("%w: no previous release's binary (Config.OldBinary)", ErrNoUpgrade)
	}
	return nil
}

// binaryFor is the binary a slot's till runs: the previous release until
// an upgrade step has upgraded it, in a scenario that upgrades.
func (h *harness) binaryFor(s *slot) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.sc.upgrades() && !s.upgraded {
		return h.cfg.OldBinary
	}
	return h.cfg.Binary
}

// upgrade stops each till cleanly and starts it again on the new
// release's binary, one after the other; the others keep selling.
func (h *harness) upgrade(ctx context.Context, targets []*slot) (string, error) {
	for _, s := range targets {
		s.mu.Lock()
		done := s.upgraded
		s.mu.Unlock()
		if done {
			return "", fmt.Errorf("%s is already upgraded", s.name)
		}
		if th := s.setDown(); th != nil {
			s.st.epoch.Add(1)
			if err := th.stop(false); err != nil {
				return "", fmt.Errorf("stop %s for its upgrade: %w", s.name, err)
			}
		}
		s.mu.Lock()
		s.upgraded = true
		s.mu.Unlock()
		s.st.epoch.Add(1)
		if err := h.start(ctx, s); err != nil {
			return "", fmt.Errorf("start %s on the new release: %w", s.name, err)
		}
		if err := h.waitReady(ctx, []*slot{s}); err != nil {
			return "", err
		}
		if th, _, _ := s.current(); th != nil {
			if p, ok := th.(*procTill); ok {
				if st, err := p.status(ctx); err != nil || st.Version == "" {
					return "", fmt.Errorf("%s on the new release reports no version on its status (%v)", s.name, err)
				}
			}
		}
		h.mu.Lock()
		h.rep.Upgrades++
		h.mu.Unlock()
	}
	msg := "upgraded " + names(targets)
	for _, st := range h.stores {
		if h.hq == nil || !st.allUpgraded() {
			continue
		}
		// Every till now announces its release: the relay reports them
		// and HQ's stores view shows each.
		var missing string
		err := poll(ctx, h.cfg.Wait, 50*time.Millisecond, func() (bool, error) {
			v, ok := h.hq.Store(st.file.ID)
			if !ok {
				return false, nil
			}
			missing = ""
			for _, tv := range v.Tills {
				if tv.Version == "" {
					missing += fmt.Sprintf(" %d", tv.Number)
				}
			}
			return missing == "" && len(v.Tills) > 0, nil
		})
		if err != nil {
			return "", fmt.Errorf("store %s: HQ shows no version for till(s)%s: %w", st.name, missing, err)
		}
		msg += "; HQ shows every till's version"
	}
	return msg, nil
}

func (st *store) allUpgraded() bool {
	for _, s := range st.slots {
		s.mu.Lock()
		up := s.upgraded
		s.mu.Unlock()
		if !up {
			return false
		}
	}
	return true
}

// newKind records st.N events of futureKind at each target (upgraded
// tills), then waits until a till of the same store still on the
// previous release, on the same side of any partition, shows them as
// "from a newer version" on its status.
func (h *harness) newKind(ctx context.Context, st Step) (string, error) {
	targets, err := h.resolve(ctx, st.Tills)
	if err != nil {
		return "", err
	}
	for _, s := range targets {
		for range st.N {
			_, inc, _ := s.current()
			key := h.key(s, inc, "future")
			a, err := h.do(ctx, s, inc, func(th tillHandle) (ackInfo, error) { return th.future(ctx, key) })
			if err != nil {
				return "", fmt.Errorf("%s: newkind: %w", s.name, err)
			}
			h.acked(s, inc, futureKind, key, a)
			h.mu.Lock()
			h.rep.NewKindEvents++
			h.mu.Unlock()
		}
	}
	var warned []string
	for _, s := range targets {
		for _, o := range s.st.slots {
			th, _, _ := o.current()
			p, ok := th.(*procTill)
			o.mu.Lock()
			old := !o.upgraded
			o.mu.Unlock()
			if !ok || !old || s.st.group(o.idx) != s.st.group(s.idx) {
				continue
			}
			err := poll(ctx, h.cfg.Wait, 50*time.Millisecond, func() (bool, error) {
				st, err := p.status(ctx)
				return err == nil && st.Newer[string(futureKind)] > 0 && newerKeysShown(st.Problems), nil
			})
			if err != nil {
				return "", fmt.Errorf("%s (previous release) never showed %s's %s events and its customer and outbox records as from a newer version: %w", o.name, s.name, futureKind, err)
			}
			warned = append(warned, o.name)
			h.mu.Lock()
			h.rep.NewerWarnings++
			h.mu.Unlock()
		}
	}
	msg := fmt.Sprintf("%d %s event(s) at %s", st.N*len(targets), futureKind, names(targets))
	if len(warned) > 0 {
		msg += "; shown as from a newer version at " + strings.Join(warned, ",")
	}
	return msg, nil
}

func (p *procTill) future(ctx context.Context, key string) (ackInfo, error) {
	f, err := p.controlAnswer(ctx, "future", key)
	if err != nil {
		return ackInfo{}, err
	}
	if len(f) != 2 {
		return ackInfo{}, fmt.Errorf("%s: future: answer %q, want an event ID and a seq", p.s.name, f)
	}
	id, err := ledger.ParseEventID(f[0])
	if err != nil {
		return ackInfo{}, err
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return ackInfo{}, fmt.Errorf("%s: future: seq %q: %v", p.s.name, f[1], err)
	}
	return ackInfo{ID: id, Seq: seq}, nil // the future kind takes no receipt number
}

func (it *inprocTill) future(context.Context, string) (ackInfo, error) {
	return ackInfo{}, fmt.Errorf("%w: inproc tills run this release only", ErrNoUpgrade)
}

// newerKeysShown says whether a previous-release till's status problems
// name the inventory key prefixes the new release's features write and
// the previous release does not read (customers, the outbox): "3
// inventory records from a newer version (customer, outbox), kept but not
// shown". The tills' `future` control writes one of each with every
// event (cmd/tillmesh/future_testnethooks.go).
func newerKeysShown(problems []string) bool {
	for _, p := range problems {
		if strings.Contains(p, "from a newer version (") && strings.Contains(p, "customer") && strings.Contains(p, "outbox") {
			return true
		}
	}
	return false
}
