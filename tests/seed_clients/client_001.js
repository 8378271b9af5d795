const ws = new WebSocket('ws://127.0.0.1:8770');

ws.onopen = () => {
    console.log('连接成功');
};

ws.onmessage = async (event) => {
    if (event.data instanceof Blob) {
        // 二进制音频数据
        const audioBlob = event.data;
        console.log('收到完整音频');
        // 可以播放或保存
    } else {
        // 文本消息
        const data = JSON.parse(event.data);
        console.log('收到消息:', data);
        
        if (data.status === "success") {
            // 欢迎消息，发送请求
            console.log('会话ID:', data.session_id);
            const request = {
                type: "tts_stream",
                text: "大家好，我现在正在体验 AI 科技！",
                prompt_audio: "asset/zero_shot_prompt.wav",
                emo_mode: "none",
                interval_silence: 200,
                max_tokens: 120,
                use_random: false
            };
            ws.send(JSON.stringify(request));
        } else if (data.type === "queued") {
            console.log('任务已排队:', data.task_id);
        } else if (data.type === "start") {
            console.log('开始生成音频');
        } else if (data.type === "end") {
            console.log('生成完成');
            ws.close();
        }
    }
};
