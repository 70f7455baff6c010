//go:build !linux

package standin

import "os/exec"

// setDeathSignal does nothing where the kernel cannot tie a child's life
// to its parent's; t.Cleanup still stops the stand-in.
func setDeathSignal(cmd *exec.Cmd) {}
