package node

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node/pinhash"
	"github.com/tillmesh/tillmesh/ui"
)

// ValidPIN reports whether pin is 4 to 12 digits.
func ValidPIN(pin string) error {
	if len(pin) < 4 || len(pin) > 12 || strings.Trim(pin, "0123456789") != "" {
		return fmt.Errorf("%w: a PIN is 4 to 12 digits", ui.ErrBadRequest)
	}
	return nil
}

// dummyPINHash is verified against when the staff member does not exist,
// so that a wrong staff number takes as long as a wrong PIN (parameters
// of pinhash.Default).
const dummyPINHash = ("$argon2id$v=19$m=7168,t=5,p=1$c29tZXNhbHRzb21lc2FsdA$bvTwOp7Bk3a2aeR6J4D0XJYQH5bTZcl10JXPjYgTEZg")

// Authenticate checks a staff member's PIN against the hash in the CRDT
// staff list.
func (t *Till) Authenticate(ctx context.Context, id, pin string) (ui.StaffMember, error) {
	st, err := t.inv.Staff(ctx, id)
	if err != nil {
		if !errors.Is(err, crdt.ErrNotFound) && !errors.Is(err, crdt.ErrInvalid) {
			t.log.Warn("read staff member", "staff", id, "err", err)
		}
		pinhash.Verify(dummyPINHash, pin)
		return ui.StaffMember{}, ui.ErrBadCredentials
	}
	if st.Inactive || st.Removed {
		pinhash.Verify(dummyPINHash, pin)
		return ui.StaffMember{}, ui.ErrBadCredentials
	}
	ok, err := pinhash.Verify(string(st.PINHash), pin)
	if err != nil {
		t.log.Warn("unreadable PIN hash: set the PIN again", "staff", id, "err", err)
		return ui.StaffMember{}, ui.ErrBadCredentials
	}
	if !ok {
		return ui.StaffMember{}, ui.ErrBadCredentials
	}
	return staffView(st), nil
}

func staffView(st crdt.Staff) ui.StaffMember {
	return ui.StaffMember{ID: st.ID, Name: st.Name, Role: ui.Role(st.Role), Inactive: st.Inactive, Removed: st.Removed}
}

// StaffList returns every staff member, without PIN hashes.
func (t *Till) StaffList(ctx context.Context) ([]ui.StaffMember, error) {
	list, err := t.inv.StaffList(ctx)
	if err != nil && !errors.Is(err, crdt.ErrCorrupt) {
		return nil, err
	}
	out := make([]ui.StaffMember, 0, len(list))
	for _, s := range list {
		out = append(out, staffView(s))
	}
	return out, nil
}

// PutStaff adds or edits a staff member in the CRDT staff list, hashing a
// new PIN with pinhash.Default; an empty pin keeps the current one.
// m.Inactive deactivates (or reactivates) the member. A removed member
// stays removed: ErrConflict.
func (t *Till) PutStaff(ctx context.Context, m ui.StaffMember, pin string) error {
	st := crdt.Staff{ID: m.ID, Name: m.Name, Role: crdt.Role(m.Role), Inactive: m.Inactive}
	old, err := t.inv.Staff(ctx, m.ID)
	switch {
	case err == nil && old.Removed:
		return fmt.Errorf("%w: staff %s was removed: give the person a new number", ui.ErrConflict, m.ID)
	case err != nil && !errors.Is(err, crdt.ErrNotFound) && !errors.Is(err, crdt.ErrInvalid):
		return err
	}
	if pin == "" {
		if err != nil {
			return fmt.Errorf("%w: staff %q is new: give a PIN", ui.ErrBadRequest, m.ID)
		}
		st.PINHash = old.PINHash
	} else {
		if err := ValidPIN(pin); err != nil {
			return err
		}
		h, err := pinhash.New(pin, pinhash.Default)
		if err != nil {
			return err
		}
		st.PINHash = []byte(h)
	}
	if err := st.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	return t.inv.PutStaff(ctx, st)
}

// RemoveStaff removes a staff member for good: the entry keeps their
// name and role for the events that name them, loses the PIN hash, and
// no till lets them log in again once the change reaches it.
func (t *Till) RemoveStaff(ctx context.Context, id string) error {
	st, err := t.inv.Staff(ctx, id)
	if errors.Is(err, crdt.ErrNotFound) || errors.Is(err, crdt.ErrInvalid) {
		return fmt.Errorf("%w: no staff member %q", ui.ErrNotFound, id)
	}
	if err != nil {
		return err
	}
	st.Removed, st.Inactive, st.PINHash = true, false, nil
	return t.inv.PutStaff(ctx, st)
}

// StaffRecord builds the CRDT entry for a new staff member: a checked
// ID and name, role "cashier", "supervisor" or "manager", and the PIN
// (4 to 12 digits) hashed with pinhash.Default. For tools that write a
// stopped till's CRDT directly (tillmesh staff add); a running till uses
// AddStaff.
func StaffRecord(id, name string, role ui.Role, pin string) (crdt.Staff, error) {
	if !ui.ValidRole(role) {
		return crdt.Staff{}, fmt.Errorf("%w: role %q: want cashier, supervisor or manager", ui.ErrBadRequest, role)
	}
	if err := ValidPIN(pin); err != nil {
		return crdt.Staff{}, err
	}
	h, err := pinhash.New(pin, pinhash.Default)
	if err != nil {
		return crdt.Staff{}, err
	}
	st := crdt.Staff{ID: id, Name: strings.TrimSpace(name), Role: crdt.Role(role), PINHash: []byte(h)}
	if err := st.Validate(); err != nil {
		return crdt.Staff{}, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	return st, nil
}

// AddStaff adds a staff member with a PIN: the demo, set-up tools and
// `tillmesh staff add`. role is "cashier", "supervisor" or "manager"
// (ui.RoleCashier, ui.RoleSupervisor, ui.RoleManager); the PIN is 4 to
// 12 digits. An existing member is edited (their PIN replaced), a removed
// one refused.
func (t *Till) AddStaff(ctx context.Context, id, name string, role ui.Role, pin string) error {
	if !ui.ValidRole(role) {
		return fmt.Errorf("%w: role %q: want cashier, supervisor or manager", ui.ErrBadRequest, role)
	}
	if pin == "" {
		return fmt.Errorf("%w: a new staff member needs a PIN", ui.ErrBadRequest)
	}
	return t.PutStaff(ctx, ui.StaffMember{ID: id, Name: name, Role: role}, pin)
}

// SetupCodeFileName is the file in a till's data directory that holds
// its one-time set-up code while the store has no manager.
const SetupCodeFileName = "setup-code"

// setupAlphabet is Crockford's base32: no I, L, O or U to misread.
const setupAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// SetupCode prepares the first run: while no manager exists in the
// store's (replicated) staff list, it makes a one-time set-up code, or
// keeps the unused one from an earlier start, writes it to
// SetupCodeFileName in the data directory (mode 0600) and logs it. It
// returns the code, the file, and false with no code once a manager
// exists (and removes a leftover file: the code is void).
func (t *Till) SetupCode(ctx context.Context) (code, path string, open bool, err error) {
	t.setupMu.Lock()
	defer t.setupMu.Unlock()
	path = filepath.Join(t.cfg.DataDir, SetupCodeFileName)
	if open, err = t.SetupOpen(ctx); err != nil || !open {
		if err == nil {
			os.Remove(path)
		}
		return "", path, false, err
	}
	if b, err := os.ReadFile(path); err == nil && len(normalCode(string(b))) == 12 {
		code = strings.TrimSpace(string(b))
	} else {
		b := make([]byte, 12)
		rand.Read(b)
		for i := range b {
			b[i] = setupAlphabet[int(b[i])%len(setupAlphabet)]
		}
		code = string(b[:4]) + "-" + string(b[4:8]) + "-" + string(b[8:])
		if err := os.WriteFile(path, []byte(code+"\n"), 0o600); err != nil {
			return "", path, false, fmt.Errorf("write set-up code: %w", err)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", path, false, fmt.Errorf("set-up code file: %w", err)
	}
	t.log.Info("no manager yet: open the set-up page on this till and enter the set-up code", "code", code, "file", path, "url", "/setup")
	return code, path, true, nil
}

// normalCode reads a code as typed: case, spaces and dashes do not count.
func normalCode(s string) string {
	s = strings.ToUpper(s)
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

// SetupOpen reports whether the store has no active manager yet.
func (t *Till) SetupOpen(ctx context.Context) (bool, error) {
	list, err := t.inv.StaffList(ctx)
	if err != nil && !errors.Is(err, crdt.ErrCorrupt) {
		return false, err
	}
	for _, s := range list {
		if s.Role == crdt.RoleManager && !s.Removed && !s.Inactive {
			return false, nil
		}
	}
	return true, nil
}

// FirstManager creates the store's first manager if code is this till's
// set-up code and the store still has no manager; the code is then
// void. A wrong code, a reused one or a store that has a manager change
// nothing.
func (t *Till) FirstManager(ctx context.Context, code string, m ui.StaffMember, pin string) error {
	t.setupMu.Lock()
	defer t.setupMu.Unlock()
	path := filepath.Join(t.cfg.DataDir, SetupCodeFileName)
	open, err := t.SetupOpen(ctx)
	if err != nil {
		return err
	}
	if !open {
		os.Remove(path)
		return fmt.Errorf("%w: the store has a manager: log in, set-up is done", ui.ErrSetupDone)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: this till has no set-up code (it was used): restart the till to get a new one", ui.ErrWrongCode)
	}
	want, got := normalCode(string(b)), normalCode(code)
	if len(want) != 12 || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return fmt.Errorf("%w: check the code the till printed at start (also in %s)", ui.ErrWrongCode, path)
	}
	if _, err := t.inv.Staff(ctx, m.ID); err == nil {
		return fmt.Errorf("%w: staff number %s is taken: choose another", ui.ErrConflict, m.ID)
	}
	m.Role, m.Inactive, m.Removed = ui.RoleManager, false, false
	if pin == "" {
		return fmt.Errorf("%w: the manager needs a PIN", ui.ErrBadRequest)
	}
	if err := t.PutStaff(ctx, m, pin); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.log.Warn("remove the used set-up code", "file", path, "err", err)
	}
	t.log.Info("first manager created", "staff", m.ID)
	return nil
}
