package batch

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestListPaging(t *testing.T) {
	for _, tt := range []struct {
		limit, have int
		page        int32
		done        bool
	}{
		{limit: 0, have: 0, page: listPageSize},
		{limit: 0, have: 5000, page: listPageSize},
		{limit: 20, have: 0, page: 20},
		{limit: 250, have: 200, page: 50},
		{limit: 250, have: 100, page: listPageSize},
		{limit: 20, have: 20, page: listPageSize, done: true},
	} {
		if !tt.done {
			require.Equal(t, tt.page, listPageFor(tt.limit, tt.have), "%+v", tt)
		}
		require.Equal(t, tt.done, listLimitReached(tt.limit, tt.have), "%+v", tt)
	}
	require.Equal(t, []int{1, 2}, listFirstN([]int{1, 2, 3}, 2))
	require.Equal(t, []int{1, 2, 3}, listFirstN([]int{1, 2, 3}, 0))
	require.Equal(t, []int{1}, listFirstN([]int{1}, 5))
}
