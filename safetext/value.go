package safetext

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// CheckValue applies Check to every string in v (an op body about to be
// encoded): struct fields, slices, arrays, map keys and values, through
// pointers and interfaces, and the strings of a json.RawMessage. The error
// names the field by its JSON path, such as handoff.questions[1]. It runs
// before encoding because encoding/json silently replaces invalid UTF-8.
func CheckValue(v any) error {
	return walk(reflect.ValueOf(v), "")
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

func walk(v reflect.Value, path string) error {
	if !v.IsValid() {
		return nil
	}
	if v.Type() == rawMessage {
		raw := v.Bytes()
		if !utf8.Valid(raw) {
			return fmt.Errorf("%s: %w", orBody(path), ErrInvalidUTF8)
		}
		var decoded any
		if len(raw) == 0 || json.Unmarshal(raw, &decoded) != nil {
			return nil // not JSON: the body check refuses it
		}
		return walk(reflect.ValueOf(decoded), path)
	}
	switch v.Kind() {
	case reflect.String:
		if err := Check(v.String()); err != nil {
			return fmt.Errorf("%s: %w", orBody(path), err)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return walk(v.Elem(), path)
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // bytes, not text
		}
		for i := 0; i < v.Len(); i++ {
			if err := walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			if k.Kind() == reflect.String {
				if err := Check(k.String()); err != nil {
					return fmt.Errorf("%s: key: %w", orBody(path), err)
				}
			}
			if err := walk(iter.Value(), join(path, fmt.Sprint(k.Interface()))); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			p := join(path, name)
			if sf.Anonymous && sf.Tag.Get("json") == "" {
				p = path
			}
			if err := walk(v.Field(i), p); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}
