package main

import "context"

func cmdFilter(ctx context.Context, args []string) error { return errNotYet("cmdFilter") }
