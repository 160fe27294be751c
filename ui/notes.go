package ui

// Note is one line of the till's status problems in a form the page can
// translate: a catalog key (ui/i18n/catalog/till.*.json) with its
// placeholders, beside the English text tools and logs read (the same
// text as Status.Problems). A note without a key is shown as its text.
type Note struct {
	Key  string         `json:"key,omitempty"`
	Args map[string]any `json:"args,omitempty"`
	Text string         `json:"text"`
}

// The keys of the status notes node writes. Each is in every catalog
// (TestPagesUseOnlyCatalogKeys reads them here).
const (
	NoteNewerEvents       = "till.problem.newer_events"         // {n} {kinds}
	NoteNewerInventory    = "till.problem.newer_inventory"      // {n} {prefixes}
	NoteRestoring         = "till.problem.restoring"            // {why}
	NoteRestoreRefilled   = "till.problem.restore_refilled"     // {why}
	NoteRestoreUnreadable = "till.problem.restore_unreadable"   // {why} {err}
	NoteRestoreNoSnapshot = "till.problem.restore_no_snapshot"  // {why}
	NoteRestored          = "till.problem.restored"             // {when} {detail} {products} {staff} {why}
	NoteRestoredStopped   = "till.problem.restored_stopped"     // as NoteRestored, and {err}
	NoteDamagedRecord     = "till.problem.damaged_record"       // {till} {seq} {reason}
	NoteDevice            = "till.problem.device"               // {device} {name} {problem}
	NotePrinterWaiting    = "till.problem.printer_waiting"      // {name} {problem} {n}
	NotePrinterHeld       = "till.problem.printer_held"         // {reason} {n}
	NoteRevokedTill       = "till.problem.revoked_till"         // {number} {seq}
	NoteRevokedSelf       = "till.problem.revoked_self"         // {seq}
	NoteRevokedRefused    = "till.problem.revoked_refused"      // {number} {seq} {refused}
	NoteRevokedSelfRef    = "till.problem.revoked_self_refused" // {number} {seq} {refused}
	NoteDeadLetters       = "till.problem.dead_letters"         // {connector} {n}
)

// NoteKeys lists every key a status note may carry.
var NoteKeys = []string{NoteNewerEvents, NoteNewerInventory, NoteRestoring, NoteRestoreRefilled, NoteRestoreUnreadable,
	NoteRestoreNoSnapshot, NoteRestored, NoteRestoredStopped, NoteDamagedRecord, NoteDevice, NotePrinterWaiting,
	NotePrinterHeld, NoteRevokedTill, NoteRevokedSelf, NoteRevokedRefused, NoteRevokedSelfRef, NoteDeadLetters}

// AddProblem appends a problem to the status: its English text to
// Problems and the translatable note to Notes.
func (s *Status) AddProblem(n Note) {
	s.Problems = append(s.Problems, n.Text)
	s.Notes = append(s.Notes, n)
}
