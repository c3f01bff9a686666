module github.com/wallet-checkout/checkout/client

// Old enough that a merchant is not forced onto the service's Go version;
// the module uses nothing newer than Go 1.22's standard library.
go 1.22
