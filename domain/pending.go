package domain

// TEMPORARY: signatures agreed between packages; the domain work replaces
// every body here with the real implementation and deletes this file.

// ParseDomain parses a whole <domain> document.
func ParseDomain(data []byte, opts *ParseOptions) (*Domain, error) { panic("domain: pending") }

// ParseInterface parses one <interface> element (an UpdateDevice fragment).
// The result has Index -1 until matched with [Domain.Find].
func ParseInterface(data []byte, opts *ParseOptions) (*NIC, error) { panic("domain: pending") }

// Marshal renders the NIC's <interface> element, type none/null included.
func (n *NIC) Marshal() ([]byte, error) { panic("domain: pending") }

// Marshal renders the whole <domain>, type none/null interfaces included.
func (d *Domain) Marshal() ([]byte, error) { panic("domain: pending") }

// MAC is the NIC's MAC address in canonical lowercase form.
func (n *NIC) MAC() string { panic("domain: pending") }

// Model is the libvirt model name ("virtio", "e1000", …).
func (n *NIC) Model() string { panic("domain: pending") }

// QEMUModel is the QEMU device driver ("virtio-net-pci", "e1000", …).
func (n *NIC) QEMUModel() string { panic("domain: pending") }

// LinkUp is the effective link state: false for type none/null and for
// <link state='down'/>.
func (n *NIC) LinkUp() bool { panic("domain: pending") }

// Find returns the domain's NIC that update refers to (alias, else MAC).
func (d *Domain) Find(update *NIC) (*NIC, error) { panic("domain: pending") }

// Diff computes what changes from old to new, or an error for what cannot
// change live.
func Diff(old, new *NIC) (ChangeSet, error) { panic("domain: pending") }

// QEMUArgs returns the QEMU command-line arguments for the domain's NICs.
func (d *Domain) QEMUArgs() ([]string, error) { panic("domain: pending") }

// InitialLinks returns each NIC's link state to set before `cont`.
func (d *Domain) InitialLinks() []LinkState { panic("domain: pending") }

// WithUpdate returns a copy of d whose NIC matching update is replaced by
// update (Index and identity taken from the replaced NIC).
func (d *Domain) WithUpdate(update *NIC) (*Domain, error) { panic("domain: pending") }
