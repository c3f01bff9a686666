package payments_test

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestMain keeps gin quiet: the router the tests build would otherwise
// print its debug banner and every route in each test's output.
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}
