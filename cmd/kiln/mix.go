package main

import "context"

func cmdMix(ctx context.Context, args []string) error { return errNotYet("cmdMix") }
