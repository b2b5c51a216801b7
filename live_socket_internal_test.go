package nicplug

import (
	"testing"

	"github.com/nicplug/nicplug/domain"
)

func TestSocketSpecs(t *testing.T) {
	for _, tc := range []struct {
		info string
		want []domain.Backend
	}{
		{"socket: connect to 127.0.0.1:5555", []domain.Backend{{Type: domain.TypeClient, Address: "127.0.0.1", Port: 5555}}},
		{"socket: mcast=230.0.0.1:5558", []domain.Backend{{Type: domain.TypeMcast, Address: "230.0.0.1", Port: 5558}}},
		{"socket: udp=127.0.0.1:12346", nil},             // the local end is not shown
		{"socket: connection from 127.0.0.1:58870", nil}, // a server's peer, not its listen address
		{"", nil}, // a server nobody connected to
		{"socket: connect to [::1]:5555", nil},
		{"socket: connect to 127.0.0.1:99999", nil},
		{"socket: connect to localhost:5555", nil},
		{"socket: connect to 127.0.0.1:5555 trailing", nil},
	} {
		got := socketSpecs(tc.info)
		if len(got) != len(tc.want) || (len(got) == 1 && got[0] != tc.want[0]) {
			t.Errorf("socketSpecs(%q) = %v, want %v", tc.info, got, tc.want)
		}
	}
}
