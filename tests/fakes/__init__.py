"""In-memory twins of the repositories and WeChat clients: the same conditional
semantics as the DynamoDB ones (a failed condition raises its domain error and writes
nothing), so service tests run in milliseconds without Java. The shared repository
suites in tests/contract/ run against these and against DynamoDB Local alike."""
