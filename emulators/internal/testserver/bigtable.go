package testserver

import (
	"context"
	"errors"
	"io"
	"testing"

	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
)

// ReadChunks reads the rows req asks data for and returns the cell chunks
// of every response, in order, failing t on an error.
func ReadChunks(t testing.TB, data btpb.BigtableClient, req *btpb.ReadRowsRequest) []*btpb.ReadRowsResponse_CellChunk {
	t.Helper()
	stream, err := data.ReadRows(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var chunks []*btpb.ReadRowsResponse_CellChunk
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return chunks
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, resp.GetChunks()...)
	}
}
