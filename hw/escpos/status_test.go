package escpos

import (
	"errors"
	"testing"
)

func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		name  string
		q     StatusQuery
		reply []byte
		pol   DrawerPolarity
		want  Status
		err   error
	}{
		{"online, pin 3 low", PrinterStatus, []byte{0x12}, OpenWhenHigh, Status{DrawerOpen: No, Offline: No}, nil},
		{"online, pin 3 high", PrinterStatus, []byte{0x16}, OpenWhenHigh, Status{DrawerOpen: Yes, Offline: No}, nil},
		{"pin 3 high, open when low", PrinterStatus, []byte{0x16}, OpenWhenLow, Status{DrawerOpen: No, Offline: No}, nil},
		{"pin 3 low, open when low", PrinterStatus, []byte{0x12}, OpenWhenLow, Status{DrawerOpen: Yes, Offline: No}, nil},
		{"offline", PrinterStatus, []byte{0x1a}, OpenWhenHigh, Status{DrawerOpen: No, Offline: Yes}, nil},
		{"undefined bits 5 and 6 ignored", PrinterStatus, []byte{0x72}, OpenWhenHigh, Status{DrawerOpen: No, Offline: No}, nil},
		{"no offline cause", OfflineCause, []byte{0x12}, 0, Status{CoverOpen: No, FeedButton: No, PaperEndStop: No, Error: No}, nil},
		{"cover open", OfflineCause, []byte{0x16}, 0, Status{CoverOpen: Yes, FeedButton: No, PaperEndStop: No, Error: No}, nil},
		{"feed button", OfflineCause, []byte{0x1a}, 0, Status{CoverOpen: No, FeedButton: Yes, PaperEndStop: No, Error: No}, nil},
		{"paper end stop", OfflineCause, []byte{0x32}, 0, Status{CoverOpen: No, FeedButton: No, PaperEndStop: Yes, Error: No}, nil},
		{"error", OfflineCause, []byte{0x52}, 0, Status{CoverOpen: No, FeedButton: No, PaperEndStop: No, Error: Yes}, nil},
		{"everything at once", OfflineCause, []byte{0x7e}, 0, Status{CoverOpen: Yes, FeedButton: Yes, PaperEndStop: Yes, Error: Yes}, nil},
		{"no error cause", ErrorCause, []byte{0x12}, 0, Status{CutterError: No, UnrecoverableError: No, AutoRecoverableError: No}, nil},
		{"cutter error", ErrorCause, []byte{0x1a}, 0, Status{CutterError: Yes, UnrecoverableError: No, AutoRecoverableError: No}, nil},
		{"unrecoverable", ErrorCause, []byte{0x32}, 0, Status{CutterError: No, UnrecoverableError: Yes, AutoRecoverableError: No}, nil},
		{"auto-recoverable", ErrorCause, []byte{0x52}, 0, Status{CutterError: No, UnrecoverableError: No, AutoRecoverableError: Yes}, nil},
		{"paper ok", PaperStatus, []byte{0x12}, 0, Status{PaperNearEnd: No, PaperOut: No}, nil},
		{"paper near end", PaperStatus, []byte{0x1e}, 0, Status{PaperNearEnd: Yes, PaperOut: No}, nil},
		{"paper near end, one bit", PaperStatus, []byte{0x16}, 0, Status{PaperNearEnd: Yes, PaperOut: No}, nil},
		{"paper out", PaperStatus, []byte{0x72}, 0, Status{PaperNearEnd: No, PaperOut: Yes}, nil},
		{"paper out and near end", PaperStatus, []byte{0x7e}, 0, Status{PaperNearEnd: Yes, PaperOut: Yes}, nil},
		{"no reply", PrinterStatus, nil, 0, Status{}, ErrNoReply},
		{"empty reply", PaperStatus, []byte{}, 0, Status{}, ErrNoReply},
		{"two bytes", PrinterStatus, []byte{0x12, 0x12}, 0, Status{}, ErrBadReply},
		{"bit 0 set", PrinterStatus, []byte{0x13}, 0, Status{}, ErrBadReply},
		{"bit 1 clear", PrinterStatus, []byte{0x10}, 0, Status{}, ErrBadReply},
		{"bit 4 clear", PrinterStatus, []byte{0x02}, 0, Status{}, ErrBadReply},
		{"bit 7 set", PrinterStatus, []byte{0x92}, 0, Status{}, ErrBadReply},
		{"all ones", PaperStatus, []byte{0xff}, 0, Status{}, ErrBadReply},
		{"zero byte", PaperStatus, []byte{0x00}, 0, Status{}, ErrBadReply},
		{"query 0", 0, []byte{0x12}, 0, Status{}, ErrInvalidArgument},
		{"query 5", 5, []byte{0x12}, 0, Status{}, ErrInvalidArgument},
		{"bad polarity", PrinterStatus, []byte{0x12}, 2, Status{}, ErrInvalidArgument},
	}
	for _, tc := range tests {
		got, err := DecodeStatus(tc.q, tc.reply, tc.pol)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
		}
		if got != tc.want {
			t.Errorf("%s: got %v\nwant %v", tc.name, got, tc.want)
		}
	}
}

func TestStatusReady(t *testing.T) {
	decode := func(q StatusQuery, b byte) Status {
		t.Helper()
		s, err := DecodeStatus(q, []byte{b}, OpenWhenHigh)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	online := decode(PrinterStatus, 0x12)
	paper := decode(PaperStatus, 0x12)
	tests := []struct {
		name string
		s    Status
		want bool
	}{
		{"nothing known", Status{}, false},
		{"online, paper unknown", online, false},
		{"paper, online unknown", paper, false},
		{"online with paper", online.Merge(paper), true},
		{"online with paper near end", online.Merge(decode(PaperStatus, 0x1e)), true},
		{"online, paper out", online.Merge(decode(PaperStatus, 0x72)), false},
		{"offline with paper", decode(PrinterStatus, 0x1a).Merge(paper), false},
		{"cover open", online.Merge(paper).Merge(decode(OfflineCause, 0x16)), false},
		{"cutter error", online.Merge(paper).Merge(decode(ErrorCause, 0x1a)), false},
		{"drawer open is still ready", decode(PrinterStatus, 0x16).Merge(paper), true},
	}
	for _, tc := range tests {
		if got := tc.s.Ready(); got != tc.want {
			t.Errorf("%s: Ready() = %v, want %v (%v)", tc.name, got, tc.want, tc.s)
		}
	}
}

func TestStatusMergeKeepsKnown(t *testing.T) {
	a := Status{Offline: No, PaperOut: Yes}
	b := Status{PaperOut: No, CoverOpen: Yes}
	got := a.Merge(b)
	want := Status{Offline: No, PaperOut: No, CoverOpen: Yes}
	if got != want {
		t.Errorf("Merge = %v, want %v", got, want)
	}
}

func TestStatusString(t *testing.T) {
	if got := (Status{}).String(); got != "unknown" {
		t.Errorf("zero Status = %q, want unknown", got)
	}
	s, _ := DecodeStatus(PaperStatus, []byte{0x1e}, OpenWhenHigh)
	want := "offline=? drawer-open=? cover-open=? feed-button=? paper-end-stop=? error=? " +
		"cutter-error=? unrecoverable-error=? auto-recoverable-error=? paper-near-end=yes paper-out=no"
	if got := s.String(); got != want {
		t.Errorf("String() = %q\nwant %q", got, want)
	}
}
