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
