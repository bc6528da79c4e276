package bigtableserver

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
)

// bttest applies cells_per_row_limit_filter and cells_per_row_offset_filter
// walking a row's families in Go map order, so "the first n cells" are a
// random pick. When such filters come last in the request's filter (alone,
// or at the end of a chain, as Google's samples use them), readRowsCells
// takes them out of the request and applies them to each row as it is sent,
// in the order production uses: families lexicographically (see
// bttestx OrderFamilies), columns lexicographically, newest cell first. Nested
// elsewhere (an interleave, a condition) they are left to bttest.
type cellWindow struct{ offset, limit int } // limit 0: none

// splitCellFilters removes trailing cells-per-row filters from f, returning
// what is left (nil: none) and the window they make, in order.
func splitCellFilters(f *btpb.RowFilter) (*btpb.RowFilter, []cellWindow) {
	var trailing []*btpb.RowFilter
	rest := f
	if chain := f.GetChain(); chain != nil {
		filters := chain.GetFilters()
		i := len(filters)
		for i > 0 && isCellWindow(filters[i-1]) {
			i--
		}
		trailing = filters[i:]
		switch {
		case i == len(filters):
			return f, nil
		case i == 0:
			rest = nil
		case i == 1:
			rest = filters[0]
		default:
			rest = &btpb.RowFilter{Filter: &btpb.RowFilter_Chain_{Chain: &btpb.RowFilter_Chain{Filters: filters[:i]}}}
		}
	} else if isCellWindow(f) {
		trailing, rest = []*btpb.RowFilter{f}, nil
	} else {
		return f, nil
	}
	var ws []cellWindow
	for _, t := range trailing {
		if n := t.GetCellsPerRowLimitFilter(); n > 0 {
			ws = append(ws, cellWindow{limit: int(n)})
		} else {
			ws = append(ws, cellWindow{offset: int(t.GetCellsPerRowOffsetFilter())})
		}
	}
	return rest, ws
}

// isCellWindow: a valid cells-per-row filter (invalid ones are left to bttest,
// which refuses them).
func isCellWindow(f *btpb.RowFilter) bool {
	switch f.GetFilter().(type) {
	case *btpb.RowFilter_CellsPerRowLimitFilter:
		return f.GetCellsPerRowLimitFilter() > 0
	case *btpb.RowFilter_CellsPerRowOffsetFilter:
		return f.GetCellsPerRowOffsetFilter() >= 0
	}
	return false
}

// window keeps the cells of one row's chunks that the windows let through;
// nil if none is left.
func window(chunks []*btpb.ReadRowsResponse_CellChunk, ws []cellWindow) []*btpb.ReadRowsResponse_CellChunk {
	for _, w := range ws {
		if w.offset >= len(chunks) {
			return nil
		}
		chunks = chunks[w.offset:]
		if w.limit > 0 && w.limit < len(chunks) {
			chunks = chunks[:w.limit]
		}
	}
	return chunks
}

// cellWindowStream applies the windows to ReadRows responses. bttest sends
// each row whole in one response, every chunk carrying key, family and
// qualifier, so rows are windowed response by response.
type cellWindowStream struct {
	grpc.ServerStream
	windows []cellWindow
}

func (s *cellWindowStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if req, ok := m.(*btpb.ReadRowsRequest); ok && req.GetFilter() != nil {
		if err := checkFilter(req.GetFilter()); err != nil {
			return err
		}
		req.Filter, s.windows = splitCellFilters(req.GetFilter())
	}
	return nil
}

func (s *cellWindowStream) SendMsg(m any) error {
	resp, ok := m.(*btpb.ReadRowsResponse)
	if !ok || len(s.windows) == 0 || len(resp.GetChunks()) == 0 {
		return s.ServerStream.SendMsg(m)
	}
	var out []*btpb.ReadRowsResponse_CellChunk
	var row []*btpb.ReadRowsResponse_CellChunk
	for _, c := range resp.GetChunks() {
		row = append(row, c)
		if c.GetCommitRow() {
			kept := window(row, s.windows)
			for i, k := range kept {
				k.RowStatus = nil
				if i == len(kept)-1 {
					k.RowStatus = &btpb.ReadRowsResponse_CellChunk_CommitRow{CommitRow: true}
				}
			}
			out = append(out, kept...)
			row = nil
		}
	}
	if len(out) == 0 {
		return nil // every cell filtered out: production sends no row
	}
	resp.Chunks = out
	return s.ServerStream.SendMsg(resp)
}

func cellWindowInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if info.FullMethod != "/google.bigtable.v2.Bigtable/ReadRows" {
		return h(srv, ss)
	}
	return h(srv, &cellWindowStream{ServerStream: ss})
}

// checkFilter refuses what production refuses and bttest panics on: a
// negative cells_per_row_offset_filter (bttest slices with it).
func checkFilter(f *btpb.RowFilter) error {
	switch x := f.GetFilter().(type) {
	case *btpb.RowFilter_CellsPerRowOffsetFilter:
		if x.CellsPerRowOffsetFilter < 0 {
			return status.Error(codes.InvalidArgument, "Error in field 'cells_per_row_offset_filter' : argument must be >= 0")
		}
	case *btpb.RowFilter_Chain_:
		for _, g := range x.Chain.GetFilters() {
			if err := checkFilter(g); err != nil {
				return err
			}
		}
	case *btpb.RowFilter_Interleave_:
		for _, g := range x.Interleave.GetFilters() {
			if err := checkFilter(g); err != nil {
				return err
			}
		}
	case *btpb.RowFilter_Condition_:
		for _, g := range []*btpb.RowFilter{x.Condition.GetPredicateFilter(), x.Condition.GetTrueFilter(), x.Condition.GetFalseFilter()} {
			if err := checkFilter(g); err != nil {
				return err
			}
		}
	}
	return nil
}
