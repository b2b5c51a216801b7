package qmp

import (
	"context"
	"encoding/json"
	"fmt"
)

// DeviceAdd hot-plugs a device (QMP device_add). args is a map or struct
// encoding to a JSON object with at least a string "driver", usually an
// "id", and any properties of that driver, e.g.
//
//	{"driver": "virtio-net-pci", "id": "net1", "netdev": "hp1", "mac": "52:54:00:12:34:56"}
func (c *Client) DeviceAdd(ctx context.Context, args any) error {
	raw, err := objectWith(args, "driver")
	if err != nil {
		return &OpError{Op: "device_add", Err: err}
	}
	_, err = c.Execute(ctx, "device_add", raw)
	return err
}

// DeviceDel requests removal of the device id (QMP device_del). Removal is
// asynchronous and may need guest cooperation (PCI); it is complete when
// the DEVICE_DELETED event arrives: create a [Client.Watch] with
// [DeviceDeleted] before calling DeviceDel.
func (c *Client) DeviceDel(ctx context.Context, id string) error {
	if id == "" {
		return &OpError{Op: "device_del", Err: fmt.Errorf("empty device id")}
	}
	_, err := c.Execute(ctx, "device_del", map[string]string{"id": id})
	return err
}

// ObjectProperty is one entry of [Client.QOMList].
type ObjectProperty struct {
	// Name is the property name, e.g. "netdev", "mac" or a child's name.
	Name string `json:"name"`
	// Type is the QOM type, e.g. "str", "child<virtio-net-pci>".
	Type string `json:"type"`
	// Description is QEMU's description, often empty.
	Description string `json:"description,omitempty"`
	// DefaultValue is the property's default when QEMU reports one.
	DefaultValue json.RawMessage `json:"default-value,omitempty"`
}

// QOMGet reads the QOM property prop of the object at path (QMP qom-get),
// e.g. QOMGet(ctx, "/machine/peripheral/net0", "netdev").
func (c *Client) QOMGet(ctx context.Context, path, prop string) (json.RawMessage, error) {
	if path == "" || prop == "" {
		return nil, &OpError{Op: "qom-get", Err: fmt.Errorf("empty path or property (%q, %q)", path, prop)}
	}
	return c.Execute(ctx, "qom-get", map[string]string{"path": path, "property": prop})
}

// QOMSet sets the QOM property prop of the object at path (QMP qom-set).
func (c *Client) QOMSet(ctx context.Context, path, prop string, value any) error {
	if path == "" || prop == "" {
		return &OpError{Op: "qom-set", Err: fmt.Errorf("empty path or property (%q, %q)", path, prop)}
	}
	_, err := c.Execute(ctx, "qom-set", map[string]any{"path": path, "property": prop, "value": value})
	return err
}

// QOMList lists the properties and children of the object at path (QMP
// qom-list); "/machine/peripheral" lists the devices that have ids.
func (c *Client) QOMList(ctx context.Context, path string) ([]ObjectProperty, error) {
	if path == "" {
		return nil, &OpError{Op: "qom-list", Err: fmt.Errorf("empty path")}
	}
	raw, err := c.Execute(ctx, "qom-list", map[string]string{"path": path})
	if err != nil {
		return nil, err
	}
	var props []ObjectProperty
	if err := DecodeReturn("qom-list", raw, &props); err != nil {
		return nil, err
	}
	return props, nil
}
