package handlers

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestMain sets gin's process-wide mode for the tests, as the binary's main
// does for the service: building a router never changes it.
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// TestNewLeavesGinModeAlone: building the service's router must not change
// gin's process-wide mode (it once switched to release mode from inside).
func TestNewLeavesGinModeAlone(t *testing.T) {
	t.Setenv(gin.EnvGinMode, "")
	gin.SetMode(gin.DebugMode)
	t.Cleanup(func() { gin.SetMode(gin.TestMode) })
	newEnv(t)
	if m := gin.Mode(); m != gin.DebugMode {
		t.Errorf("gin mode %q after New, want it left %q", m, gin.DebugMode)
	}
}
