package controller

// The backends plans name, as cmd/faultline registers them.
import (
	_ "github.com/faultline-dev/faultline/control/local"
	_ "github.com/faultline-dev/faultline/control/ssh"
)
