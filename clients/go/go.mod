module agentops.dev/agentrollout/flags

go 1.22
