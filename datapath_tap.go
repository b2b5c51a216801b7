package nicplug

import "errors"

// tapPath plans moves on the tap datapath.
type tapPath struct{}

func (tapPath) move(b *planBuilder, live NICState, cur, want Wiring) (*move, error) {
	return nil, errors.New("nicplug: tap datapath: not yet")
}
