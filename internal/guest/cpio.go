package guest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// cpioTrailer is the name of the entry that ends a newc archive.
const cpioTrailer = "TRAILER!!!"

// CPIOEntry is one member of a newc ("070701") cpio archive, the format the
// Linux kernel unpacks as an initramfs.
type CPIOEntry struct {
	// Name is the path inside the archive, without a leading slash
	// ("bin/busybox").
	Name string
	// Mode holds the permission bits and the type: one of fs.ModeDir,
	// fs.ModeSymlink, fs.ModeDevice|fs.ModeCharDevice, or none for a
	// regular file.
	Mode fs.FileMode
	// Data is a regular file's content or a symlink's target.
	Data []byte
	// Major and Minor are a device node's numbers.
	Major, Minor uint32
}

// CPIOWriter writes a newc cpio archive. Entries get inode numbers in the
// order they are written, owner root and modification time zero, so the same
// entries always produce the same bytes.
type CPIOWriter struct {
	w      *bufio.Writer
	n      int64
	ino    uint32
	closed bool
}

// NewCPIOWriter returns a writer of a newc archive to w.
func NewCPIOWriter(w io.Writer) *CPIOWriter {
	return &CPIOWriter{w: bufio.NewWriter(w), ino: 1}
}

// unix mode type bits, as stored in a cpio header.
const (
	modeReg = 0o100000
	modeDir = 0o040000
	modeLnk = 0o120000
	modeChr = 0o020000
)

func cpioMode(m fs.FileMode) (uint32, error) {
	perm := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	switch t := m.Type(); t {
	case 0:
		return modeReg | perm, nil
	case fs.ModeDir:
		return modeDir | perm, nil
	case fs.ModeSymlink:
		return modeLnk | perm, nil
	case fs.ModeDevice | fs.ModeCharDevice:
		return modeChr | perm, nil
	default:
		return 0, fmt.Errorf("unsupported file type %v", t)
	}
}

// WriteEntry appends e to the archive.
func (c *CPIOWriter) WriteEntry(e CPIOEntry) error {
	if c.closed {
		return errors.New("guest: cpio: write after close")
	}
	if e.Name == "" || e.Name == cpioTrailer || strings.HasPrefix(e.Name, "/") || strings.ContainsRune(e.Name, 0) {
		return fmt.Errorf("guest: cpio: invalid entry name %q", e.Name)
	}
	mode, err := cpioMode(e.Mode)
	if err != nil {
		return fmt.Errorf("guest: cpio: entry %q: %w", e.Name, err)
	}
	if (e.Mode.IsDir() || e.Mode.Type() == fs.ModeDevice|fs.ModeCharDevice) && len(e.Data) != 0 {
		return fmt.Errorf("guest: cpio: entry %q: a %v cannot have data", e.Name, e.Mode.Type())
	}
	if e.Mode.Type() == fs.ModeSymlink && len(e.Data) == 0 {
		return fmt.Errorf("guest: cpio: symlink %q has no target", e.Name)
	}
	if int64(len(e.Data)) > 0xffffffff {
		return fmt.Errorf("guest: cpio: entry %q: %d bytes is too large", e.Name, len(e.Data))
	}
	nlink := uint32(1)
	if e.Mode.IsDir() {
		nlink = 2
	}
	ino := c.ino
	c.ino++
	return c.write(ino, mode, nlink, e.Major, e.Minor, e.Name, e.Data)
}

func (c *CPIOWriter) write(ino, mode, nlink, rmaj, rmin uint32, name string, data []byte) error {
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmaj, rmin, len(name)+1, 0)
	if _, err := c.w.WriteString(hdr); err != nil {
		return fmt.Errorf("guest: cpio: %w", err)
	}
	c.n += int64(len(hdr))
	if _, err := c.w.WriteString(name + "\x00"); err != nil {
		return fmt.Errorf("guest: cpio: %w", err)
	}
	c.n += int64(len(name) + 1)
	if err := c.pad(); err != nil {
		return err
	}
	if _, err := c.w.Write(data); err != nil {
		return fmt.Errorf("guest: cpio: %w", err)
	}
	c.n += int64(len(data))
	return c.pad()
}

// pad aligns the output to 4 bytes, as newc requires after names and data.
func (c *CPIOWriter) pad() error {
	if r := c.n % 4; r != 0 {
		if _, err := c.w.Write(make([]byte, 4-r)); err != nil {
			return fmt.Errorf("guest: cpio: %w", err)
		}
		c.n += 4 - r
	}
	return nil
}

// Close writes the trailer entry and flushes. It does not close the
// underlying writer.
func (c *CPIOWriter) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if err := c.write(0, 0, 1, 0, 0, cpioTrailer, nil); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("guest: cpio: %w", err)
	}
	return nil
}
