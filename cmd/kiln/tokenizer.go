package main

import "context"

func cmdTokenizer(ctx context.Context, args []string) error { return errNotYet("cmdTokenizer") }

func cmdTokenize(ctx context.Context, args []string) error { return errNotYet("cmdTokenize") }

func cmdShards(ctx context.Context, args []string) error { return errNotYet("cmdShards") }
