package hw

// KicksWaiting returns how many drawer kicks are waiting for the link or
// going out.
func (p *ESCPOSPrinter) KicksWaiting() int { return int(p.kicking.Load()) }
