package ledger

import (
	"strings"
	"testing"
)

func TestCheckNameSaysWhichCharacter(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"日本", `"日本": '日' is not allowed`},
		{"caféx", `'é' is not allowed`},
		{"Abc", `'A' is not allowed`},
		{"ab", "is 2 characters, want 3 to 63"},
		{strings.Repeat("a", 64), "is 64 characters"},
	} {
		err := CheckName(c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckName(%q) = %v; want it to say %q", c.name, err, c.want)
		}
	}
	if err := CheckName("my-photos-2"); err != nil {
		t.Errorf("CheckName(my-photos-2) = %v", err)
	}
}
