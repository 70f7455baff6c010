package standin

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill the stand-in if the test binary
// dies without running its cleanups.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
