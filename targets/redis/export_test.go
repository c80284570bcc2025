package redis

// For the external tests (package redis_test).
var (
	RequireRedis      = requireRedis
	SearchableTempDir = searchableTempDir
)
