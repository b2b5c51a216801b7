package qmp

import (
	"context"
	"encoding/json"
	"fmt"
)

// NetdevAdd creates a network backend (QMP netdev_add). args is a map or a
// struct encoding to a JSON object with at least the string members "type"
// and "id", plus any fields of that backend type, for example
//
//	{"type": "tap", "id": "be0", "fd": "be0fd"}
//	{"type": "tap", "id": "be0", "fds": "q0:q1", "vhost": true}
//	{"type": "hubport", "id": "be0-hp", "hubid": 0, "netdev": "be0"}
//
// Fields are passed through unchanged; QEMU validates them.
func (c *Client) NetdevAdd(ctx context.Context, args any) error {
	raw, err := objectWith(args, "type", "id")
	if err != nil {
		return &OpError{Op: "netdev_add", Err: err}
	}
	_, err = c.Execute(ctx, "netdev_add", raw)
	return err
}

// NetdevDel deletes the network backend id (QMP netdev_del). An unknown id
// fails with a [*CommandError] of class "DeviceNotFound".
func (c *Client) NetdevDel(ctx context.Context, id string) error {
	if id == "" {
		return &OpError{Op: "netdev_del", Err: fmt.Errorf("empty netdev id")}
	}
	_, err := c.Execute(ctx, "netdev_del", map[string]string{"id": id})
	return err
}

// SetLink sets the link state of the net client name (QMP set_link): a NIC's
// device id or a netdev id. The guest sees carrier follow a NIC's link.
func (c *Client) SetLink(ctx context.Context, name string, up bool) error {
	if name == "" {
		return &OpError{Op: "set_link", Err: fmt.Errorf("empty net client name")}
	}
	_, err := c.Execute(ctx, "set_link", struct {
		Name string `json:"name"`
		Up   bool   `json:"up"`
	}{name, up})
	return err
}

// objectWith encodes args, checks that it is a JSON object whose members
// named in required are non-empty strings, and returns the encoding.
func objectWith(args any, required ...string) (json.RawMessage, error) {
	if args == nil {
		return nil, fmt.Errorf("nil arguments (need %q)", required)
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encode arguments: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("arguments must encode as a JSON object, got %.60s", raw)
	}
	for _, k := range required {
		v, ok := m[k]
		if !ok {
			return nil, fmt.Errorf("arguments lack %q", k)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil || s == "" {
			return nil, fmt.Errorf("argument %q must be a non-empty string, got %.40s", k, v)
		}
	}
	return raw, nil
}
