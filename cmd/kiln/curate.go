package main

import "context"

func cmdCurate(ctx context.Context, args []string) error { return errNotYet("cmdCurate") }

func cmdRecipe(ctx context.Context, args []string) error { return errNotYet("cmdRecipe") }

func cmdInspect(ctx context.Context, args []string) error { return errNotYet("cmdInspect") }
