package main

import "context"

func cmdDedup(ctx context.Context, args []string) error { return errNotYet("cmdDedup") }
