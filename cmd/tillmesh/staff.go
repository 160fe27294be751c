package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/ui"
)

// staffRoles are the roles `staff add` accepts; the store's role set has
// the final word (the crdt package validates).
var staffRoles = []string{"cashier", "supervisor", "manager"}

func staffCommand() *cli.Command {
	return &cli.Command{
		Name:  "staff",
		Usage: "manage staff on a stopped till (the first manager of a store without HQ)",
		Subcommands: []*cli.Command{
			{
				Name:  "add",
				Usage: "add a staff member; the PIN is read from stdin or --pin-file",
				Description: "Writes the staff member into the till's inventory (replicated to every till of the\n" +
					"store when the till next runs), the same way the manager screen does. The till must\n" +
					"be stopped. Example:\n\n" +
					"   echo 1234 | tillmesh staff add --data DIR --number 1 --name \"Maria\" --role manager",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "data", Required: true, Usage: "the stopped till's data directory", EnvVars: []string{"TILLMESH_DATA"}},
					&cli.StringFlag{Name: "number", Required: true, Usage: "the staff number they log in with"},
					&cli.StringFlag{Name: "name", Required: true, Usage: "their name, as receipts and reports show it"},
					&cli.StringFlag{Name: "role", Value: "cashier", Usage: strings.Join(staffRoles, ", ")},
					&cli.StringFlag{Name: "pin-file", Usage: "read the PIN (4 to 12 digits) from this file's first line instead of stdin"},
				},
				Action: staffAdd,
			},
		},
	}
}

func staffAdd(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	role := c.String("role")
	known := false
	for _, r := range staffRoles {
		known = known || r == role
	}
	if !known {
		return fmt.Errorf("--role %q: want one of %s", role, strings.Join(staffRoles, ", "))
	}
	var src io.Reader = os.Stdin
	what := "stdin"
	if p := c.String("pin-file"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("--pin-file: %w", err)
		}
		defer f.Close()
		src, what = f, p
	}
	pin, err := readPIN(src)
	if err != nil {
		return fmt.Errorf("read the PIN from %s: %w", what, err)
	}
	if err := node.ValidPIN(pin); err != nil {
		return fmt.Errorf("the PIN from %s: a PIN is 4 to 12 digits", what)
	}
	t, err := node.OpenStopped(c.Context, c.String("data"), log)
	if err != nil {
		return err
	}
	id := c.String("number")
	err = addStaff(c, t, id, role, pin)
	if cerr := t.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close till %s: %w", c.String("data"), cerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "staff %s %q (%s) added to store %q; every till learns it when this till next runs\n", id, c.String("name"), role, t.StoreName())
	return nil
}

func addStaff(c *cli.Context, t *node.Till, id, role, pin string) error {
	if old, err := t.Inventory().Staff(c.Context, id); err == nil {
		return fmt.Errorf("staff %s already exists (%s, %s): change them on a manager screen", id, old.Name, old.Role)
	} else if !errors.Is(err, crdt.ErrNotFound) {
		return fmt.Errorf("read staff %s: %w", id, err)
	}
	if err := t.AddStaff(c.Context, id, c.String("name"), ui.Role(role), pin); err != nil {
		return fmt.Errorf("add staff %s: %w", id, err)
	}
	return nil
}

// readPIN reads one line (at most 64 bytes) and trims it.
func readPIN(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 64)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pin := strings.TrimSpace(line)
	if pin == "" {
		return "", errors.New("no PIN given")
	}
	return pin, nil
}
