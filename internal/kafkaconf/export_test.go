package kafkaconf

// Mechanism exposes the SASL mechanism to the external tests.
var Mechanism = (*Flags).mechanism
