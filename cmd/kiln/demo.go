package main

import "context"

func cmdDemo(ctx context.Context, args []string) error { return errNotYet("cmdDemo") }
