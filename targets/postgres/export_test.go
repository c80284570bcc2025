package postgres

// For the external tests (package postgres_test).
var (
	RequirePostgres   = requirePostgres
	SearchableTempDir = searchableTempDir
)
