package seed

import "testing"

// TestAggregateFamiliesBecomeTheirValueTypes: each declared aggregate is an
// int64 aggregate family of that kind, GC rules kept beside it.
func TestAggregateFamiliesBecomeTheirValueTypes(t *testing.T) {
	s := mustParse(t, `project = "p"
[bigtable]
instance = "i"
[[bigtable.tables]]
name = "visits"
families.total = { aggregate = "sum", max_age_seconds = 60 }
families.low = { aggregate = "min" }
families.high = { aggregate = "max" }
families.visitors = { aggregate = "hll" }
`, "etl.toml")
	families := tableProto(s.Tables[0]).GetColumnFamilies()
	aggs := map[string]string{}
	for name, f := range families {
		a := f.GetValueType().GetAggregateType()
		if a.GetInputType().GetInt64Type() == nil {
			t.Errorf("family %s: input type %v, want int64", name, a.GetInputType())
		}
		switch {
		case a.GetSum() != nil:
			aggs[name] = "sum"
		case a.GetMin() != nil:
			aggs[name] = "min"
		case a.GetMax() != nil:
			aggs[name] = "max"
		case a.GetHllppUniqueCount() != nil:
			aggs[name] = "hll"
		}
	}
	want := map[string]string{"total": "sum", "low": "min", "high": "max", "visitors": "hll"}
	for name, agg := range want {
		if aggs[name] != agg {
			t.Errorf("family %s: aggregate %q, want %q", name, aggs[name], agg)
		}
	}
	if families["total"].GetGcRule().GetMaxAge().GetSeconds() != 60 {
		t.Errorf("family total lost its GC rule: %v", families["total"].GetGcRule())
	}
}
