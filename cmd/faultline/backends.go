package main

// The control backends faultline can reach nodes with: one import line
// each (they register themselves with control).
import (
	_ "github.com/faultline-dev/faultline/control/docker"
	_ "github.com/faultline-dev/faultline/control/local"
	_ "github.com/faultline-dev/faultline/control/ssh"
)
