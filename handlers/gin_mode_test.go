package handlers_test

import (
	"testing"

	"github.com/gin-gonic/gin"
)

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
