package processor

import (
	"encoding/json"

	"github.com/rewind/rewind/topics"
)

// encodeOutcome stores a first outcome in the dedup index: the result
// without the per-record fields.
func encodeOutcome(res *topics.Result) []byte {
	data, _ := json.Marshal(topics.Result{
		Status: res.Status, Code: res.Code, Message: res.Message, Version: res.Version, Events: res.Events,
	})
	return data
}

func decodeOutcome(data []byte) (*topics.Result, error) {
	var res topics.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
