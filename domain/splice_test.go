package domain_test

import (
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
)

// spliceDoc has what a wholesale rewrite loses: the XML declaration,
// comments, single quotes, a namespace prefix, odd spacing.
const spliceDoc = `<?xml version='1.0' encoding='UTF-8'?>
<!-- managed by hand: keep this comment -->
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>keep</name>
  <devices>
    <!-- the first NIC -->
    <interface type='none'>
      <mac address='52:54:00:00:00:01'/>
      <model type='virtio'/>
    </interface>
	<interface   type='user' ><mac address='52:54:00:00:00:02'/><alias name='lan'/></interface>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-nodefaults'/>
  </qemu:commandline>
</domain>
`

func TestSplice(t *testing.T) {
	old, err := domain.ParseDomain([]byte(spliceDoc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := domain.Splice([]byte(spliceDoc), old, old); err != nil || string(got) != spliceDoc {
		t.Errorf("Splice with no change: %v\n%s", err, got)
	}

	upd, err := domain.ParseInterface([]byte(`<interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	next, err := old.WithUpdate(upd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := domain.Splice([]byte(spliceDoc), old, next)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(spliceDoc, `<interface type='none'>
      <mac address='52:54:00:00:00:01'/>
      <model type='virtio'/>
    </interface>`, `<interface type="user">
      <mac address="52:54:00:00:00:01"></mac>
      <model type="virtio"></model>
    </interface>`, 1)
	if string(got) != want {
		t.Errorf("Splice:\n%s\nwant\n%s", got, want)
	}
	// The result parses back to the new domain.
	back, err := domain.ParseDomain(got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := back.NICs[0].Backend(); b.Type != domain.TypeUser {
		t.Errorf("spliced NIC reads back as %v", b)
	}

	// The second NIC, on one line with a tab before it.
	upd2, err := domain.ParseInterface([]byte(`<interface type='none'><alias name='lan'/></interface>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	next2, err := old.WithUpdate(upd2)
	if err != nil {
		t.Fatal(err)
	}
	got2, err := domain.Splice([]byte(spliceDoc), old, next2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got2), "\n\t<interface type=\"none\">\n\t  <mac address=\"52:54:00:00:00:02\"></mac>") ||
		!strings.HasSuffix(string(got2), "</interface>\n  </devices>\n  <qemu:commandline>\n    <qemu:arg value='-nodefaults'/>\n  </qemu:commandline>\n</domain>\n") {
		t.Errorf("Splice of the second NIC:\n%s", got2)
	}

	if _, err := domain.Splice([]byte(`<domain><devices/></domain>`), old, next); err == nil {
		t.Error("Splice into a document without the NICs succeeded")
	}
}
