package guest

import (
	"context"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
)

// DataDiskLabel is the ext4 label of the disks [MakeDataDisk] writes.
const DataDiskLabel = "nicplug-data"

// MakeDataDisk writes a raw ext4 image at image holding a copy of the tree
// at dir (modes kept, owned by root), sized for it with some room to
// spare: a second disk that carries files into a distribution guest (its
// cloud kernel has no 9p), e.g. with ExtraArgs "-drive",
// "file=IMAGE,if=virtio,format=raw,readonly=on". It needs mke2fs 1.43 or
// later (-d; Debian's e2fsprogs).
func MakeDataDisk(ctx context.Context, dir, image string) error {
	if _, err := exec.LookPath("mke2fs"); err != nil {
		return newOpError("data disk", fmt.Errorf("mke2fs not found (apt-get install e2fsprogs): %w", err))
	}
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size += info.Size() + 4096 // data plus an inode's and a block's worth
		return nil
	})
	if err != nil {
		return newOpError("data disk", err)
	}
	kib := (size+size/4)/1024 + 16<<10 // +25 % and 16 MiB for ext4's own metadata
	cmd := exec.CommandContext(ctx, "mke2fs", "-q", "-t", "ext4", "-E", "root_owner=0:0", "-L", DataDiskLabel,
		"-d", dir, image, strconv.FormatInt(kib, 10)+"k")
	if out, err := cmd.CombinedOutput(); err != nil {
		return newOpError("data disk", fmt.Errorf("mke2fs -d %s: %w: %s", dir, err, tail(out, 2000)))
	}
	return nil
}
