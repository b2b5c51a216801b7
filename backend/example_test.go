package backend_test

import (
	"fmt"
	"log"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

func ExampleParseNetdevID() {
	b := domain.Backend{Type: domain.TypeDirect, Dev: "eth0", Mode: "bridge"}
	id := backend.BackendID("net0", 3, b)
	fmt.Println(id)
	fmt.Println(id.Port())
	fmt.Println(id.FD(0))
	back, err := backend.ParseNetdevID(id.Port().String())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Role, back.Device, back.Gen)
	// Output:
	// np.net0.b3.h912e50de
	// np.net0.p3
	// np.net0.b3.h912e50de.fd0
	// backend-port net0 3
}

func ExampleNetdevArgs() {
	args, err := backend.NetdevArgs("np.net0.b1.h5f6c0c1e", domain.Backend{Type: domain.TypeServer, Address: "127.0.0.1", Port: 5555})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(args))
	// Output:
	// {"type":"socket","id":"np.net0.b1.h5f6c0c1e","listen":"127.0.0.1:5555"}
}

func ExampleParseInfoNetwork() {
	out := "hub 0\r\n" +
		" \\ np.net0.p1: np.net0.b1.ha2530f8d: index=0,type=user,net=10.0.2.0,restrict=off\r\n" +
		" \\ np.net0.nic: net0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:0f:7d:ad\r\n"
	ni, err := backend.ParseInfoNetwork(out)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range ni.Hubs {
		for _, p := range h.Ports {
			fmt.Printf("hub %d: %s -> %s (%s)\n", h.ID, p.Name, p.Peer.Name, p.Peer.Type)
		}
	}
	// Output:
	// hub 0: np.net0.p1 -> np.net0.b1.ha2530f8d (user)
	// hub 0: np.net0.nic -> net0 (nic)
}
