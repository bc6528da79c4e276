package pubsubfidelity

import "github.com/etl-pipeline/emulators/internal/pstestx"

// pstest's state, reached through internal/pstestx under its server lock
// (Layer.st.Lock): the layer reads and changes a subscription's messages,
// their delivery counters, the topic's subscriptions and the ack timeout.
type (
	topic = pstestx.Topic
	sub   = pstestx.Subscription
	msg   = pstestx.Message
)
