package pipeline

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Params are a step's parameters as a recipe or a --set flag gives them:
// values decoded from YAML, or strings from the command line.
type Params map[string]any

// DecodeParams sets the fields of the struct pointed to by cfg from p.
// Fields are named by their `param:"name"` tag; a field without one is not a
// parameter. Unknown names and values of the wrong type are errors naming the
// parameter. String values (from --set) are parsed into the field's type:
// lists as comma-separated items, maps as "k:v,k:v".
func DecodeParams(p Params, cfg any) error {
	fields, err := paramFields(cfg)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			return fmt.Errorf("unknown parameter %q (known: %s)", k, strings.Join(sortedKeys(fields), ", "))
		}
		if err := setParam(f, p[k]); err != nil {
			return fmt.Errorf("parameter %q: %w", k, err)
		}
	}
	return nil
}

// ParamDoc describes one parameter for --list output.
type ParamDoc struct {
	Name    string
	Type    string
	Default string
	Help    string
}

// DescribeParams lists the parameters of cfg (a pointer to a struct holding
// the defaults) in field order.
func DescribeParams(cfg any) []ParamDoc {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	var out []ParamDoc
	for i := 0; i < v.NumField(); i++ {
		sf := v.Type().Field(i)
		name := sf.Tag.Get("param")
		if name == "" || !sf.IsExported() {
			continue
		}
		out = append(out, ParamDoc{
			Name:    name,
			Type:    sf.Type.String(),
			Default: formatParam(v.Field(i)),
			Help:    sf.Tag.Get("help"),
		})
	}
	return out
}

func paramFields(cfg any) (map[string]reflect.Value, error) {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("params target must be a pointer to a struct, got %T", cfg)
	}
	v = v.Elem()
	fields := make(map[string]reflect.Value)
	for i := 0; i < v.NumField(); i++ {
		sf := v.Type().Field(i)
		if name := sf.Tag.Get("param"); name != "" && sf.IsExported() {
			fields[name] = v.Field(i)
		}
	}
	return fields, nil
}

func sortedKeys(m map[string]reflect.Value) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func setParam(f reflect.Value, val any) error {
	if s, ok := val.(string); ok && f.Kind() != reflect.String {
		return setFromString(f, s)
	}
	if m, ok := val.(map[string]any); ok && f.Kind() == reflect.Map {
		// Keys from a decoded YAML or JSON mapping arrive as strings even when
		// the parameter wants, say, n-gram sizes as ints.
		out := reflect.MakeMap(f.Type())
		for k, v := range m {
			kv := reflect.New(f.Type().Key()).Elem()
			if err := setScalar(kv, k); err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			vv := reflect.New(f.Type().Elem()).Elem()
			if err := setParam(vv, v); err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			out.SetMapIndex(kv, vv)
		}
		f.Set(out)
		return nil
	}
	// Round-trip through YAML so ints become floats, lists become slices and
	// so on, with YAML's own type errors when they do not fit.
	b, err := yaml.Marshal(val)
	if err != nil {
		return err
	}
	nv := reflect.New(f.Type())
	if err := yaml.Unmarshal(b, nv.Interface()); err != nil {
		return fmt.Errorf("want %s: %w", f.Type(), err)
	}
	f.Set(nv.Elem())
	return nil
}

func setFromString(f reflect.Value, s string) error {
	switch f.Kind() {
	case reflect.Slice:
		out := reflect.MakeSlice(f.Type(), 0, 0)
		if strings.TrimSpace(s) != "" {
			for _, item := range strings.Split(s, ",") {
				ev := reflect.New(f.Type().Elem()).Elem()
				if err := setScalar(ev, strings.TrimSpace(item)); err != nil {
					return err
				}
				out = reflect.Append(out, ev)
			}
		}
		f.Set(out)
		return nil
	case reflect.Map:
		out := reflect.MakeMap(f.Type())
		if strings.TrimSpace(s) != "" {
			for _, item := range strings.Split(s, ",") {
				k, v, ok := strings.Cut(item, ":")
				if !ok {
					return fmt.Errorf("map entry %q: want key:value", item)
				}
				kv := reflect.New(f.Type().Key()).Elem()
				vv := reflect.New(f.Type().Elem()).Elem()
				if err := setScalar(kv, strings.TrimSpace(k)); err != nil {
					return err
				}
				if err := setScalar(vv, strings.TrimSpace(v)); err != nil {
					return err
				}
				out.SetMapIndex(kv, vv)
			}
		}
		f.Set(out)
		return nil
	}
	return setScalar(f, s)
}

func setScalar(f reflect.Value, s string) error {
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want a bool, got %q", s)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want a non-negative integer, got %q", s)
		}
		f.SetUint(n)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", s)
		}
		f.SetFloat(x)
	default:
		return fmt.Errorf("cannot set %s from a string", f.Type())
	}
	return nil
}

func formatParam(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i].Interface()) < fmt.Sprint(keys[j].Interface()) })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%v:%v", k.Interface(), v.MapIndex(k).Interface())
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}
