package fiscal

// The reference provider's wire format: JSON over HTTPS, shaped like the
// public online cash-register APIs of fiscalized countries (each receipt
// with its lines, their VAT rate and amount, the payments by type, the
// cashier, the terminal and the seller's tax ID; the service answers a
// fiscal number, a fiscal sign and a verification URL the receipt
// prints as a QR code). testnet/fiscalsim serves the same format.
//
//	POST /api/v1/receipts   a sale, refund or void    Idempotency-Key: <event id>
//	POST /api/v1/zreports   a shift's Z report        Idempotency-Key: <event id>
//	-> 200 {"ok":true,"fiscal_number":"...","fiscal_sign":"...","qr_url":"..."}
//	-> 4xx or 200 {"ok":false,"error":{"code":"...","message":"..."}}

// ReceiptType is what a receipt request registers.
type ReceiptType string

// Receipt types.
const (
	TypeSale   ReceiptType = "sale"
	TypeRefund ReceiptType = "refund"
	TypeVoid   ReceiptType = "void"
)

// ReceiptRequest is the body of POST /api/v1/receipts. Amounts are
// minor units; quantities are thousandths of a unit (grams for kg).
type ReceiptRequest struct {
	ID       string      `json:"id"` // the event ID, also the Idempotency-Key
	Type     ReceiptType `json:"type"`
	Time     string      `json:"time"` // RFC 3339, UTC
	TIN      string      `json:"store_tin"`
	Terminal string      `json:"terminal"` // "till-<number>"
	Receipt  string      `json:"receipt"`  // "<till number>-<seq>"
	Cashier  string      `json:"cashier"`
	Currency string      `json:"currency"`
	Items    []Item      `json:"items"`
	Payments Payments    `json:"payments"`
	Total    int64       `json:"total"`
	VAT      int64       `json:"vat_total"`
	// Rounding is the cash rounding (ledger.Sale.Rounding): the payments
	// equal Total plus Rounding. Zero where cash is not rounded.
	Rounding int64 `json:"rounding,omitempty"`
	// Original is the sale a refund or void gives back.
	Original *Original `json:"original,omitempty"`
}

// Item is one receipt line.
type Item struct {
	Name     string `json:"name"`
	SKU      string `json:"sku"`
	Qty      int64  `json:"qty"` // thousandths
	Unit     string `json:"unit"`
	Price    int64  `json:"price,omitempty"`
	Discount int64  `json:"discount,omitempty"`
	Amount   int64  `json:"amount"`      // what the customer pays, VAT included
	VATRate  int32  `json:"vat_rate_bp"` // basis points: 1200 is 12%
	VAT      int64  `json:"vat"`
}

// Payments are the amounts by payment type, change deducted from cash.
type Payments struct {
	Cash  int64 `json:"cash"`
	Card  int64 `json:"card"`
	Other int64 `json:"other"`
}

// Original names the sale a refund or void gives back.
type Original struct {
	ID           string `json:"id"`
	FiscalNumber string `json:"fiscal_number,omitempty"`
}

// ZReportRequest is the body of POST /api/v1/zreports.
type ZReportRequest struct {
	ID          string `json:"id"`
	Time        string `json:"time"`
	TIN         string `json:"store_tin"`
	Terminal    string `json:"terminal"`
	Cashier     string `json:"cashier"`
	Currency    string `json:"currency"`
	CountedCash int64  `json:"counted_cash"`
}

// Answer is the service's answer to either request.
type Answer struct {
	OK           bool   `json:"ok"`
	FiscalNumber string `json:"fiscal_number,omitempty"`
	FiscalSign   string `json:"fiscal_sign,omitempty"`
	QRURL        string `json:"qr_url,omitempty"`
	Error        *Error `json:"error,omitempty"`
}

// Error is the service's reason for refusing a request.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
