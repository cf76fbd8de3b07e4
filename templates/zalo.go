package templates

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Zalo templates. A ZNS message is not text we write: its wording is a
// template designed and approved in Zalo's console, and we send only its
// id and the values of its parameters. A congthu template of channel zalo
// maps one dossier template onto one ZNS template: the header names it
// (zns_template_id), and each body line is one parameter,
//
//	customer_name (customer_name): ((applicant.name))
//	dossier_code (code): ((dossier_code))
//	appointment (time): ((appointment_at|date))
//
// that is the ZNS parameter's name, its Zalo parameter type in
// parentheses, and its value in the placeholder language. The type sets
// the longest value Zalo takes (ZNSParamTypes); a longer value is
// shortened when the message is sent (the zalo channel does it, and says
// so in the notification's timeline), and Lint warns when the sample
// would be.

// ZNSParamTypes maps each ZNS parameter type to the most characters Zalo
// takes in a value of it, as Zalo's template parameter table gives them.
var ZNSParamTypes = map[string]int{
	"customer_name": 30,  // tên khách hàng
	"phone":         15,  // số điện thoại
	"address":       200, // địa chỉ
	"code":          30,  // mã số
	"label":         30,  // nhãn tùy chỉnh
	"status":        30,  // trạng thái giao dịch
	"contact":       50,  // thông tin liên hệ
	"title":         5,   // giới tính / danh xưng
	"product":       200, // tên sản phẩm / thương hiệu
	"amount":        20,  // số lượng / số tiền
	"time":          20,  // thời gian
}

// ZNSParamTypeNames lists the parameter types, sorted.
func ZNSParamTypeNames() []string {
	out := make([]string, 0, len(ZNSParamTypes))
	for k := range ZNSParamTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// maxZNSParams bounds the parameters of one template (Zalo's templates
// have a handful).
const maxZNSParams = 30

// ZNSParam is one rendered parameter of a Zalo template.
type ZNSParam struct {
	Name  string
	Type  string
	Value string
	Max   int // the most characters Zalo takes (ZNSParamTypes)
}

// znsParam is a parsed parameter line.
type znsParam struct {
	name, typ string
	value     []node
}

var znsParamLine = regexp.MustCompile(`^([a-z][a-z0-9_]{0,63})\s*\(([a-z_]+)\)\s*:\s*(.*)$`)

// parseZNSParams reads a zalo template's body: one parameter per line,
// blank lines ignored.
func parseZNSParams(body string, firstLine int) ([]znsParam, error) {
	var out []znsParam
	seen := map[string]bool{}
	for i, line := range strings.Split(body, "\n") {
		ln := firstLine + i
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		errf := func(format string, args ...any) error {
			return &SyntaxError{Part: "body", Line: ln, Msg: fmt.Sprintf(format, args...)}
		}
		m := znsParamLine.FindStringSubmatch(line)
		if m == nil {
			return nil, errf("want \"name (type): value\", got %q", line)
		}
		name, typ, val := m[1], m[2], m[3]
		if _, ok := ZNSParamTypes[typ]; !ok {
			return nil, errf("unknown ZNS parameter type %q; known: %s", typ, strings.Join(ZNSParamTypeNames(), ", "))
		}
		if seen[name] {
			return nil, errf("parameter %s given twice", name)
		}
		seen[name] = true
		if len(out) == maxZNSParams {
			return nil, errf("more than %d parameters", maxZNSParams)
		}
		nodes, err := parseText(val, "body", ln)
		if err != nil {
			return nil, err
		}
		out = append(out, znsParam{name: name, typ: typ, value: nodes})
	}
	if len(out) == 0 {
		return nil, &SyntaxError{Part: "body", Line: firstLine, Msg: "a zalo template names at least one parameter"}
	}
	return out, nil
}

// renderZNS fills the parameters; collect gathers the errors as Render does.
func (t *Template) renderZNS(r *Rendered, data map[string]any, collect func(error)) {
	r.ZNSTemplateID = t.ZNSTemplateID
	var text strings.Builder
	for _, p := range t.params {
		ev := &evaluator{data: data, mode: modePlain}
		ev.run(p.value)
		s, err := ev.result()
		collect(err)
		s = strings.Join(strings.Fields(s), " ")
		r.ZNSParams = append(r.ZNSParams, ZNSParam{Name: p.name, Type: p.typ, Value: s, Max: ZNSParamTypes[p.typ]})
		fmt.Fprintf(&text, "%s: %s\n", p.name, s)
	}
	r.Text = strings.TrimSuffix(text.String(), "\n")
}

var znsTemplateID = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)
