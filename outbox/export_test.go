package outbox

// RecordBatchStats reports the outcome group commit's batches and
// requests so far, for the tests of package outbox_test.
func (s *Store) RecordBatchStats() (batches, requests int64) { return s.recordBatch.Stats() }
