package main

import "context"

func cmdTrain(ctx context.Context, args []string) error { return errNotYet("cmdTrain") }

func cmdBench(ctx context.Context, args []string) error { return errNotYet("cmdBench") }

func cmdExport(ctx context.Context, args []string) error { return errNotYet("cmdExport") }
