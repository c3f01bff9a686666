package payments

// ScriptAnsweredHash is the SHA1 of the script that records a refund's
// first answer, for tests that make that one write fail.
var ScriptAnsweredHash = scriptAnswered.Hash()
