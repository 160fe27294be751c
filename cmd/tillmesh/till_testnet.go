package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/node"
)

// Hidden flags of `tillmesh till` for the testnet harness (package
// testnet, process and netns modes). They are not for stores.
func tillTestnetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "clock-skew", Hidden: true, Usage: "testnet: run the till's clock this far off (e.g. 3h, -90m)"},
		&cli.BoolFlag{Name: "testnet-control", Hidden: true, Usage: "testnet: read control commands from stdin"},
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
//
// It returns when in ends or ctx does.
func testnetControl(ctx context.Context, in io.Reader, out io.Writer, till *node.Till, clock *skewClock) {
	sc := bufio.NewScanner(in)
	for sc.Scan() && ctx.Err() == nil {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		id, verb, args := f[0], f[1], f[2:]
		err := func() error {
			switch verb {
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
			default:
				return fmt.Errorf("unknown command %q", verb)
			}
			return nil
		}()
		if err != nil {
			fmt.Fprintf(out, "testnet %s error %v\n", id, err)
		} else {
			fmt.Fprintf(out, "testnet %s ok\n", id)
		}
	}
}
