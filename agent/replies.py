"""What the agent says itself when the model gives no usable answer, in the question's
language (English, Portuguese or Chinese; English when unsure).

A marketer who asked in Portuguese should not get "I could not answer" in English:
these replies are the agent's, not the model's, so they are written here once per
language rather than translated by a model that has just failed.
"""

from __future__ import annotations

REPLIES = {
    "out_of_time": {
        "en": "I ran out of time before any tool answered. Try a more specific question, e.g. "
        "name the table, the period or the segment.",
        "pt": "O tempo acabou antes de alguma ferramenta responder. Tente uma pergunta mais "
        "específica, por exemplo com a tabela, o período ou o segmento.",
        "zh": "在任何工具返回结果之前就已超时。"
        "请把问题问得更具体一些，例如指明数据表、时间段或客户分群。",
    },
    "no_tool_ran": {
        "en": "I could not look this up: no query or search ran for this question (the model's "
        "reply held no call I could run). Try asking again more specifically, e.g. name the "
        "table, the period or the segment.",
        "pt": "Não consegui consultar isso: nenhuma consulta ou busca foi executada para esta "
        "pergunta (a resposta do modelo não trazia uma chamada que eu pudesse executar). "
        "Pergunte de novo de forma mais específica, por exemplo com a tabela, o período ou o "
        "segmento.",
        "zh": "我无法查询这个问题：没有为它运行任何查询或检索（模型的回复中没有可执行的调用）。"
        "请把问题问得更具体一些再试，例如指明数据表、时间段或客户分群。",
    },
    # The error itself is in the steps (the UI's, `ask --verbose`): it is written for the
    # model, in English, and would drown the reply's language.
    "query_failed": {
        "en": "I could not answer this from the data reliably: my last query failed (the query "
        "and its error are in the steps). Try rephrasing, e.g. name the table or period.",
        "pt": "Não consegui responder com segurança a partir dos dados: a última consulta "
        "falhou (a consulta e o erro estão nas etapas). Tente reformular a pergunta, por "
        "exemplo com a tabela ou o período.",
        "zh": "我无法根据数据可靠地回答这个问题：最后一次查询失败了（查询及其错误见步骤）。"
        "请换一种问法再试，例如指明数据表或时间段。",
    },
    # After the checks (agent.checks), the queries still leave out part of the question.
    "unreliable": {
        "en": "I could not answer this reliably: my queries leave out part of your question "
        "({missing}). Their results are in the steps; try rephrasing, e.g. name the view or "
        "the condition.",
        "pt": "Não consegui responder com segurança: minhas consultas deixam de fora parte da "
        "sua pergunta ({missing}). Os resultados estão nas etapas; tente reformular, por "
        "exemplo com a tabela ou a condição.",
        "zh": "我无法可靠地回答这个问题：我的查询遗漏了问题中的一部分（{missing}）。"
        "查询结果见步骤；请换一种问法再试，例如指明数据表或条件。",
    },
    "returned": {
        "en": "I could not write a reliable answer, so here is what {call} returned:\n\n{result}",
        "pt": "Não consegui escrever uma resposta confiável; este é o resultado de {call}:"
        "\n\n{result}",
        "zh": "我无法写出可靠的回答，以下是 {call} 返回的结果：\n\n{result}",
    },
    # The same, for a result of one value: the value in the question's language, the
    # query left to the steps (its SQL would drown the reply's language).
    "returned_value": {
        "en": "I could not write a reliable answer; the query returned one value: {value} "
        "({column}). The query is in the steps.",
        "pt": "Não consegui escrever uma resposta confiável; a consulta devolveu um único "
        "valor: {value} ({column}). A consulta está nas etapas.",
        "zh": "我无法写出可靠的回答；查询只返回了一个值：{value}（{column}）。查询见步骤。",
    },
    # A one-row result that answers the question, said by the agent (agent.direct): the
    # row's values with their columns, the query left to the steps.
    "direct": {
        "en": "From the data: {value}. The query is in the steps.",
        "pt": "Segundo os dados: {value}. A consulta está nas etapas.",
        "zh": "根据数据：{value}。查询见步骤。",
    },
    # A review's words added to an answer that paraphrased it (guards.with_quote).
    "quote": {
        "en": '"{words}" ({rating}★, customer {customer})',
        "pt": '"{words}" ({rating}★, cliente {customer})',
        "zh": "“{words}”（{rating}★，客户 {customer}）",
    },
    # The question's results outgrew the model's context before an answer came.
    "too_long": {
        "en": "I could not finish: this question's results grew longer than the model can "
        "read at once. They are in the steps; try a narrower question, e.g. one period or "
        "one measure.",
        "pt": "Não consegui terminar: os resultados desta pergunta ficaram longos demais para "
        "o modelo ler de uma vez. Eles estão nas etapas; tente uma pergunta mais restrita, "
        "por exemplo um período ou uma medida.",
        "zh": "我未能完成：这个问题的查询结果超出了模型一次能读取的长度。结果见步骤；"
        "请把问题问得更窄一些，例如只问一个时间段或一个指标。",
    },
    # The model's answer to a Portuguese or Chinese question was a figure alone
    # ("1,470,272.48" to "总收入是多少？"); alone, a figure reads as English.
    "bare_figure": {
        "en": "{value}.",
        "pt": "A resposta é {value}.",
        "zh": "根据查询结果，答案是 {value}。",
    },
    "step_limit": {
        "en": "I could not finish within the step limit. The tool results so far are shown "
        "above; try a more specific question.",
        "pt": "Não consegui terminar dentro do limite de etapas. Os resultados das ferramentas "
        "até aqui aparecem acima; tente uma pergunta mais específica.",
        "zh": "在步骤上限内未能完成。目前为止的工具结果显示在上方；请把问题问得更具体一些。",
    },
}


def reply(kind: str, question: str, **values: str) -> str:
    """The agent's own reply of this kind, in the language of `question`."""
    from segassist.warehouse.language import detect_language

    texts = REPLIES[kind]
    return texts.get(detect_language(question, default="en"), texts["en"]).format(**values)
