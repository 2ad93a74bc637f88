package main

import "context"

func cmdReport(ctx context.Context, args []string) error { return errNotYet("cmdReport") }

func cmdLineage(ctx context.Context, args []string) error { return errNotYet("cmdLineage") }

func cmdVerify(ctx context.Context, args []string) error { return errNotYet("cmdVerify") }
