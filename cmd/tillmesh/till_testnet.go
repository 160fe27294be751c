package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/p2p"
)

// Hidden flags of `tillmesh till` for the testnet harness (package
// testnet, process and netns modes). They are not for stores. They stay
// in the release binary, not behind the testnethooks build tag, because
// `tillmesh testnet run --mode process|netns` (README) runs this binary
// itself as every till; without --testnet-control they do nothing but
// offset the clock by --clock-skew (default 0). docs/ARCHITECTURE.md,
// "Testnet hooks in the production till", lists every such hook.
func tillTestnetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "clock-skew", Hidden: true, Usage: "testnet: run the till's clock this far off (e.g. 3h, -90m)"},
		&cli.BoolFlag{Name: "testnet-control", Hidden: true, Usage: "testnet: read control commands from stdin"},
		&cli.Uint64Flag{Name: "shape-seed", Hidden: true, Usage: "testnet: seed of the link shaper's loss draws (with --testnet-control)"},
	}
}

// skewClock is the till's clock with an offset the harness can change.
type skewClock struct{ off atomic.Int64 }

func newSkewClock(d time.Duration) *skewClock {
	c := &skewClock{}
	c.off.Store(int64(d))
	return c
}

func (c *skewClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// testnetControl reads commands from in, one per line, "<id> <verb>
// <args>", and answers each on out with "testnet <id> ok" or "testnet <id>
// error <reason>":
//
//	<id> block <peer>...    refuse these peers (Host.Block): a partition
//	<id> unblock <peer>...  lift it
//	<id> skew <duration>    set the clock's offset
//	<id> shape <target> <delay> <loss>
//	                        set a link fault (p2p.Shaper): target "all" is
//	                        this till's own link, an "ip" or "ip:port" the
//	                        link of the till dialed there; loss 0..0.5
//	<id> export <file>      write the till's whole ledger to file, one
//	                        `ledger export` JSON line an event (the
//	                        outbox scenarios read what the outbox owes)
//	<id> future <key>       record an event of a kind the previous release
//	                        does not know (binaries built with -tags
//	                        testnethooks only); answers "ok <event id> <seq>"
//
// It returns when in ends or ctx does.
func testnetControl(ctx context.Context, in io.Reader, out io.Writer, till *node.Till, clock *skewClock, shaper *p2p.Shaper) {
	sc := bufio.NewScanner(in)
	for sc.Scan() && ctx.Err() == nil {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		id, verb, args := f[0], f[1], f[2:]
		var answer string
		err := func() error {
			switch verb {
			case "export":
				if len(args) != 1 {
					return fmt.Errorf("export takes a file")
				}
				return exportTo(args[0], till)
			case "future":
				if len(args) != 1 {
					return fmt.Errorf("future takes an idempotency key")
				}
				ev, err := recordFuture(ctx, till, args[0])
				if err != nil {
					return err
				}
				answer = fmt.Sprintf(" %s %d", ev.ID(), ev.Seq)
			case "block", "unblock":
				for _, a := range args {
					p, err := peer.Decode(a)
					if err != nil {
						return fmt.Errorf("peer %q: %v", a, err)
					}
					if verb == "block" {
						till.Host().Block(p)
					} else {
						till.Host().Unblock(p)
					}
				}
			case "skew":
				if len(args) != 1 {
					return fmt.Errorf("skew takes one duration")
				}
				d, err := time.ParseDuration(args[0])
				if err != nil {
					return err
				}
				clock.off.Store(int64(d))
			case "shape":
				if len(args) != 3 {
					return fmt.Errorf("shape takes a target, a delay and a loss")
				}
				d, err := time.ParseDuration(args[1])
				if err != nil {
					return err
				}
				loss, err := strconv.ParseFloat(args[2], 64)
				if err != nil {
					return fmt.Errorf("loss %q: %v", args[2], err)
				}
				f := p2p.Fault{Delay: d, Loss: loss}
				if args[0] == "all" {
					return shaper.SetAll(f)
				}
				return shaper.SetRemote(args[0], f)
			default:
				return fmt.Errorf("unknown command %q", verb)
			}
			return nil
		}()
		if err != nil {
			fmt.Fprintf(out, "testnet %s error %v\n", id, err)
		} else {
			fmt.Fprintf(out, "testnet %s ok%s\n", id, answer)
		}
	}
}

// exportTo writes till's ledger to path as `ledger export` JSON lines
// (without the fiscal columns), through a temporary file renamed into
// place, so a reader never sees half of it.
func exportTo(path string, till *node.Till) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(f, 64<<10)
	out := newExporter(w, "jsonl")
	db := till.DB()
	for t := range db.Vector() {
		number := till.TillNumber(t)
		err := db.Range(t, 1, func(ev *ledger.Event) bool {
			var n uint64
			db.View(func(s *ledger.State) { n, _ = s.ReceiptNumber(ev.Till, ev.Seq) })
			err = out.write(toExported(ev, number, n))
			return err == nil
		})
		if err != nil {
			f.Close()
			return fmt.Errorf("export: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("export: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
